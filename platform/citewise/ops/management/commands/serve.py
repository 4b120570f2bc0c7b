"""`manage.py serve`: what `make run` runs. The web server and a worker, together.

0. Check that the port is free and that no other `serve` runs on the data directory;
   either failure is one line and exit status 1, before anything is changed or started.
1. Migrate the database, collect the static files, make sure an admin account exists
   and load the demo knowledge base (Citewise's own docs) on the first start.
2. Start the ASGI server (uvicorn) and a Celery worker as child processes, each in its
   own process group, so Ctrl-C reaches only this command, which then stops both in
   order (a second Ctrl-C from the terminal would make Celery abandon running tasks).
3. Once the web server answers and the worker answers a ping (both done printing their
   start-up banners), print the URL and the admin account's password last, where a
   newcomer looks for them.
4. If either child exits, stop the other and exit non-zero; Ctrl-C exits 0.
Running it again is safe: every step checks what is already there.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from citewise.ops.ports import port_problem

STOP_GRACE_SECONDS = 20
WEB_START_TIMEOUT = 60


def web_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "citewise.asgi:application",
        "--host", host, "--port", str(port),
        "--no-access-log",  # the request log middleware writes one line per request
        "--timeout-graceful-shutdown", "10",
    ]


def worker_command(concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "citewise", "worker",
        "--queues", "default,ingest", "--concurrency", str(concurrency),
        "--loglevel", settings.LOG_LEVEL, "--without-gossip", "--without-mingle",
        # Embedded beat runs the periodic tasks (celery.py): the sweep that resumes stalled
        # ingestion and the daily retention of audit events and conversations.
        "--beat", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule"),
    ]


class Command(BaseCommand):
    help = "Migrate, ensure an admin account, then run the web server and a worker together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.RUN_HOST)
        parser.add_argument("--port", type=int, default=settings.RUN_PORT)
        parser.add_argument("--concurrency", type=int, default=settings.WORKER_CONCURRENCY)

    def handle(self, *args: Any, host: str, port: int, concurrency: int, **options: Any) -> None:
        self.data_dir_lock = self._refuse_unless_free(host, port)  # held until the exit
        account = self._prepare()
        children = {
            "worker": subprocess.Popen(worker_command(concurrency), start_new_session=True),
            "web": subprocess.Popen(web_command(host, port), start_new_session=True),
        }
        stopping = False

        def request_stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/"  # noqa: S104
        startup = _Startup(host, port)
        exit_code = 0
        while not stopping:
            exited = {name: child.returncode for name, child in children.items()
                      if child.poll() is not None}
            if exited:
                for name, code in exited.items():
                    self.stderr.write(f"The {name} process exited with status {code}; stopping.")
                exit_code = 1
                break
            if not startup.announced and startup.both_answer():
                self._announce(url, account)
            elif not startup.announced and (late := startup.late()):
                self.stderr.write(late)
            time.sleep(0.5)
        if not startup.announced:  # a generated password is shown once: never lose it
            self.stdout.write(account.getvalue(), ending="")
        self.stdout.write("Stopping the web server and the worker...")
        _stop_all(children.values())
        self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _refuse_unless_free(self, host: str, port: int) -> IO[str]:
        """The data directory's lock, once the port is known to be free; else one line on
        stderr and exit status 1, before anything is changed or started."""
        lock = _lock_data_dir(settings.DATA_DIR)
        problem = port_problem(host, port) if lock is not None else (
            f"Citewise is already running on the data directory {settings.DATA_DIR} "
            "(another `make run` or `manage.py serve`). Stop it first, or set "
            "CITEWISE_DATA_DIR to another folder.")
        if problem or lock is None:
            self.stderr.write(problem)
            sys.exit(1)
        return lock

    def _prepare(self) -> io.StringIO:
        """Migrate, collect the static files, ensure an admin account and the demo
        knowledge base. Returns what ensure_admin said, to be printed last."""
        call_command("migrate", interactive=False, verbosity=0)
        # Compressed copies of the static files (gzip, brotli), which whitenoise serves.
        call_command("collectstatic", interactive=False, verbosity=0)
        # The admin's password is printed last, under the URL, not above the servers'
        # start-up banners where it would scroll away.
        account = io.StringIO()
        call_command("ensure_admin", stdout=account)
        call_command("load_demo")
        self.stdout.flush()
        return account

    def _announce(self, url: str, account: io.StringIO) -> None:
        # One write: a worker's log line cannot land inside the block.
        self.stdout.write("\n".join([
            "", self.style.SUCCESS(f"Citewise is running at {url}  (readiness: {url}readyz)"),
            account.getvalue().rstrip("\n"), "Press Ctrl-C to stop.",
        ]))
        self.stdout.flush()


class _Startup:
    """Whether the web server (GET /healthz) and the worker (a control ping) have
    answered yet; `announced` once both have."""

    def __init__(self, host: str, port: int) -> None:
        self.health_url = f"http://{_probe_host(host)}:{port}/healthz"
        self.started = time.monotonic()
        self.web = self.worker = self.announced = self.warned = False

    def both_answer(self) -> bool:
        self.web = self.web or _answers(self.health_url)
        self.worker = self.worker or _worker_answers()
        self.announced = self.web and self.worker
        return self.announced

    def late(self) -> str | None:
        """A warning, once, when either has not answered within WEB_START_TIMEOUT."""
        if self.warned or time.monotonic() - self.started <= WEB_START_TIMEOUT:
            return None
        self.warned = True
        waiting = " and ".join(name for name, up in (("the web server", self.web),
                                                     ("the worker", self.worker)) if not up)
        return f"No answer yet from {waiting} after {WEB_START_TIMEOUT} s."


def _lock_data_dir(data_dir: Path) -> IO[str] | None:
    """An exclusive lock on the data directory, or None when another process holds it.
    The kernel releases it when this process exits, however it exits; the children do
    not inherit it (Popen closes other descriptors)."""
    handle = (data_dir / ".serve.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _worker_answers() -> bool:
    """The readiness check's ping: the filesystem broker polls once a second, so a
    shorter wait than its timeout misses a worker that is up."""
    from citewise.ops.readiness import NotReady, check_worker

    try:
        check_worker()
    except NotReady:
        return False
    return True


def _probe_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - listening everywhere; probe via loopback
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop_all(children: Any) -> None:
    """Stop the children (each leads a process group of its own), then whatever their
    groups still hold: a worker killed outright (the out-of-memory killer, say) leaves its
    pool process behind, holding the models' memory, and a next start would run beside
    it."""
    running = [child for child in children if child.poll() is None]
    for child in running:
        child.send_signal(signal.SIGTERM)  # both finish what they are doing, then exit
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in running:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    for child in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left
            os.killpg(child.pid, signal.SIGKILL)
