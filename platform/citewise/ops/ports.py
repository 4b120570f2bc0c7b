"""Can the web server listen on HOST:PORT? Asked before anything starts.

Standard library only, and runnable as a script (`python3 platform/citewise/ops/ports.py
HOST PORT`), so `make run` asks before it spends minutes installing; `manage.py serve`
asks again before it migrates or starts a process. Exit status 1 and one line on stderr
when the port cannot be used.
"""

from __future__ import annotations

import errno
import socket
import sys


def port_problem(host: str, port: int) -> str | None:
    """None when a server could listen on (host, port) now; else one English sentence
    saying why not and what to do. Binds as uvicorn does (IPv6 when the host has a colon,
    SO_REUSEADDR), so it refuses what uvicorn would refuse, and a port left in TIME_WAIT
    by a server that just stopped counts as free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return _why(host, port, error)
    return None


def _why(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        other = port + 1 if port < 65535 else 8000
        return (f"Port {port} on {host} is already in use (is Citewise already running?). "
                f"Stop that program or choose another port, e.g. make run PORT={other}")
    if error.errno == errno.EACCES:
        return (f"Not allowed to listen on port {port} on {host} (ports below 1024 need "
                "administrator rights). Choose another port, e.g. make run PORT=8000")
    return (f"Cannot listen on {host}:{port} ({error.strerror or error}). Set HOST to an "
            "address of this machine, e.g. make run HOST=127.0.0.1")


def main(argv: list[str]) -> int:
    host, port = argv[1], argv[2]
    if not port.isdigit() or not 0 < int(port) < 65536:
        print(f"PORT must be a number from 1 to 65535, not {port!r}.", file=sys.stderr)
        return 1
    problem = port_problem(host, int(port))
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
