"""One Milvus Lite server on a TCP port, shared by several processes of a test.

It stands in for Milvus standalone (the `milvus` service of a multi-node deployment):
Milvus Lite 2.5 runs the same C++ engine (knowhere) behind the same gRPC API, so web
processes and workers reach it at `http://127.0.0.1:PORT` exactly as they reach a real
server. Differences that matter to tests: it knows only FLAT, IVF_FLAT and AUTOINDEX
indexes and implements neither aliases nor renames (retrieval/milvus_store.py keeps to
that subset).

A Milvus Lite *file path* (`milvus:/x/milvus.db`) cannot be shared: pymilvus spawns a
private server per process and the file is locked, so a second process fails. This
module starts the engine's own binary in server mode instead (milvus_lite.server.Server
with an address), which any number of processes may use.

    with milvus_lite_server(tmp_path) as uri:   # "http://127.0.0.1:PORT"
        ...
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def milvus_lite_server(folder: Path | str) -> Iterator[str]:
    """Start a Milvus Lite server with its data in `folder`; yield its URI; stop it."""
    from milvus_lite.server import Server

    port = free_port()
    server = Server(str(Path(folder) / "milvus.db"), f"127.0.0.1:{port}")
    if not server.init() or not server.start():
        raise RuntimeError("Milvus Lite did not start (see its log above)")
    try:
        uri = f"http://127.0.0.1:{port}"
        _wait_for_port(port)
        _wait_until_serving(uri)
        yield uri
    finally:
        server.stop()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Milvus Lite did not listen on port {port} "
                               f"within {STARTUP_SECONDS:.0f}s")
        time.sleep(0.1)


def _wait_until_serving(uri: str) -> None:
    """The port opens before the engine answers requests: a first test that wrote at once
    failed now and then. Wait until a client can list the collections."""
    from pymilvus import MilvusClient

    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            client = MilvusClient(uri, timeout=5)
            try:
                client.list_collections()
                return
            finally:
                client.close()
        except Exception as error:  # pymilvus raises several types while the server starts
            if time.monotonic() > deadline:
                raise RuntimeError(f"Milvus Lite at {uri} did not answer within "
                                   f"{STARTUP_SECONDS:.0f}s: {error}") from error
            time.sleep(0.2)


def drop_collections(uri: str, prefix: str) -> None:
    """Drop every collection whose name starts with `prefix` (between tests)."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri)
    try:
        for name in client.list_collections():
            if name.startswith(prefix):
                client.drop_collection(name)
    finally:
        client.close()
