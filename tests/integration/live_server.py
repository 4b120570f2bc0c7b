"""A live uvicorn server on the test database and data directory (indexes included),
for tests that talk to Citewise over real HTTP: httpx, the official openai and mcp
clients, schemathesis, Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from citewise.ops.management.commands.serve import web_command
from tests.helpers import REPO_ROOT
from tests.workers import database_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(**extra_env: str) -> Iterator[str]:
    """Yields the server's base URL (http://127.0.0.1:PORT); stops it afterwards. Needs a
    transactional database test, so the server's connection sees the test's rows. Its
    output is in server_log(URL)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
           "DJANGO_SETTINGS_MODULE": "citewise.settings",
           "PYTHONPATH": f"{REPO_ROOT / 'platform'}{os.pathsep}{REPO_ROOT}", **extra_env}
    log_path = server_log(f"http://127.0.0.1:{port}")
    with log_path.open("wb") as log:
        # As `make run` starts it (no access log: the request log replaces it).
        process = subprocess.Popen(web_command("127.0.0.1", port), cwd=REPO_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log_path.read_text()
        try:
            if httpx.get(f"{base}/api/schema/", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.3)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def server_log(base_url: str) -> Path:
    """Where the server at base_url (from start_server) writes its output."""
    return Path(settings.DATA_DIR) / f"uvicorn-{base_url.rsplit(':', 1)[1]}.log"


@pytest.fixture
def server():
    yield from start_server()
