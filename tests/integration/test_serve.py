"""`manage.py serve` (what `make run` runs) on the embedded defaults: a fresh data dir,
SQLite and the filesystem broker, no other server. Ready within two minutes; Ctrl-C
stops the web server and the worker; a second start is safe."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, clean_env

pytestmark = pytest.mark.slow
READY_WITHIN = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


class Serve:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.port = port
        self.log_path = data_dir.parent / f"serve-{port}-{time.monotonic_ns()}.log"
        env = clean_env(CITEWISE_DATA_DIR=str(data_dir), PORT=str(port),
                        CITEWISE_ADMIN_USER="owner")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve"], cwd=REPO_ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> dict:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                status, body = get_json(f"http://127.0.0.1:{self.port}/readyz")
                if status == 200:
                    return body
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"not ready within {READY_WITHIN} s:\n{self.output()}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        return self.process.wait(timeout=60)


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{pid}$", text, flags=re.MULTILINE):
            found.append(int(status.parent.name))
    return found


def wait_for_demo_answer(data_dir: Path, question: str) -> dict:
    env = clean_env(CITEWISE_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="citewise.settings")
    count_pending = ("from citewise.knowledge.models import Document; "
                     "print(Document.objects.exclude(status='indexed').count())")
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        pending = subprocess.run([sys.executable, "manage.py", "shell", "-c", count_pending],
                                 cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                 timeout=60, check=True)
        if pending.stdout.strip().splitlines()[-1] == "0":
            break
        time.sleep(1)
    result = subprocess.run(
        [sys.executable, "manage.py", "search", question, "--kb", "citewise-docs", "--json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout)


def test_serve_runs_web_and_worker_and_stops_cleanly(tmp_path):
    data_dir = tmp_path / "data"
    serve = Serve(data_dir, free_port())
    try:
        body = serve.wait_ready()
        assert body["status"] == "ready"
        assert "sqlite" in body["checks"]["database"]["detail"]
        assert body["checks"]["broker"]["detail"].startswith("filesystem:")
        children = children_of(serve.process.pid)
        assert len(children) == 2  # uvicorn and the celery worker
        output = serve.output()
        assert f"Citewise is running at http://localhost:{serve.port}/" in output
        password = re.search(r"Created admin account 'owner' with password (\S+)", output)
        assert password, output
        assert "Demo knowledge base 'citewise-docs'" in output
        # The worker indexes the demo knowledge base: Citewise's own docs answer at once.
        found = wait_for_demo_answer(data_dir, "Which address does make run listen on?")
        assert found["results"][0]["document"] in {"configuration.md", "operations.md"}
    finally:
        exit_code = serve.interrupt()
    assert exit_code == 0, serve.output()
    assert "Stopped." in serve.output()
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "zombie" in Path(
            f"/proc/{child}/status").read_text(), f"process {child} outlived serve"

    # A second start reuses the data dir: the same admin, no new password printed.
    again = Serve(data_dir, free_port())
    try:
        again.wait_ready()
        assert "Admin account: already set up." in again.output()
        assert "with password" not in again.output()
    finally:
        assert again.interrupt() == 0

    # The printed password signs in (checked in the data dir's own database).
    check = subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup(); from django.contrib.auth import authenticate; "
         f"print(authenticate(username='owner', password={password.group(1)!r}) is not None)"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        env=clean_env(CITEWISE_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="citewise.settings"),
    )
    assert check.stdout.strip() == "True", check.stderr


def test_serve_stops_when_its_worker_dies(tmp_path):
    serve = Serve(tmp_path / "data", free_port())
    try:
        serve.wait_ready()
        for child in children_of(serve.process.pid):
            if "celery" in Path(f"/proc/{child}/cmdline").read_text():
                os.kill(child, signal.SIGKILL)
        assert serve.process.wait(timeout=60) == 1
        assert "The worker process exited" in serve.output()
        assert children_of(serve.process.pid) == []
    finally:
        if serve.process.poll() is None:
            serve.interrupt()
