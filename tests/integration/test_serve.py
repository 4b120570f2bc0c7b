"""`manage.py serve` (what `make run` runs) on the embedded defaults: a fresh data dir,
SQLite and the filesystem broker, no other server. Ready within two minutes; the URL and
the admin password are printed last, after both servers' start-up output; Ctrl-C stops
the web server and the worker; a second start is safe. A port in use, or a second serve
on the same data dir, is one line and exit status 1 before anything starts."""

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
        self.env = clean_env(CITEWISE_DATA_DIR=str(data_dir), PORT=str(port),
                             CITEWISE_ADMIN_USER="owner")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve"], cwd=REPO_ROOT, env=self.env,
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

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if text in self.output():
                return self.output()
            assert self.process.poll() is None, self.output()
            time.sleep(0.5)
        raise AssertionError(f"{text!r} not printed within {READY_WITHIN} s:\n{self.output()}")

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


def group_members(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (zombies have finished)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def assert_address_and_password_come_last(output: str, port: int) -> None:
    """The last lines serve prints itself are the URL, the admin account and how to stop,
    together, after uvicorn's and Celery's start-up output (which a newcomer would
    otherwise have to scroll back through)."""
    lines = output.splitlines()
    at = {name: next(i for i, line in enumerate(lines) if marker in line) for name, marker in (
        ("url", f"Citewise is running at http://localhost:{port}/"),
        ("uvicorn", "Application startup complete."),
        ("celery", "ready."),
    )}
    assert at["url"] > at["uvicorn"] and at["url"] > at["celery"], output
    assert lines[at["url"] + 1].startswith("Created admin account 'owner' with password")
    assert lines[at["url"] + 3] == "Press Ctrl-C to stop.", output


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
        output = serve.wait_for("Press Ctrl-C to stop.")
        password = re.search(r"Created admin account 'owner' with password (\S+)", output)
        assert password, output
        assert "Demo knowledge base 'citewise-docs'" in output
        assert_address_and_password_come_last(output, serve.port)
        # A second serve on the same data dir would run a second worker on it: refused.
        second = subprocess.run([sys.executable, "manage.py", "serve"], cwd=REPO_ROOT,
                                env=serve.env | {"PORT": str(free_port())},
                                capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 1
        assert second.stderr.strip() == (
            f"Citewise is already running on the data directory {data_dir} (another "
            "`make run` or `manage.py serve`). Stop it first, or set CITEWISE_DATA_DIR to "
            "another folder."), second.stderr
        assert len(children_of(serve.process.pid)) == 2 and serve.process.poll() is None
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
        lines = again.wait_for("Press Ctrl-C to stop.").splitlines()
        url_at = next(i for i, line in enumerate(lines) if "Citewise is running at" in line)
        assert lines[url_at + 1:url_at + 3] == ["Admin account: already set up.",
                                                "Press Ctrl-C to stop."]
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
    killed = []
    try:
        serve.wait_ready()
        for child in children_of(serve.process.pid):
            if "celery" in Path(f"/proc/{child}/cmdline").read_text():
                os.kill(child, signal.SIGKILL)  # as the out-of-memory killer would
                killed.append(child)
        assert serve.process.wait(timeout=60) == 1
        assert "The worker process exited" in serve.output()
        assert children_of(serve.process.pid) == []
        # Nor its pool process, orphaned when the worker died: it would hold the models'
        # memory and run beside the worker of the next start.
        assert killed and [pid for group in killed for pid in group_members(group)] == []
    finally:
        if serve.process.poll() is None:
            serve.interrupt()


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_serve_refuses_a_port_in_use_before_starting_anything(tmp_path):
    data_dir = tmp_path / "data"
    with listening_socket() as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve"], cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=120, check=False,
            env=clean_env(CITEWISE_DATA_DIR=str(data_dir), PORT=str(port)))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Port {port} on 127.0.0.1 is already in use (is Citewise already running?). "
        f"Stop that program or choose another port, e.g. make run PORT={port + 1}")
    assert result.stdout == ""  # no "running", no admin account, no demo queued
    assert not (data_dir / "citewise.sqlite3").exists()  # not even migrated


def test_make_run_checks_the_port_before_installing(tmp_path):
    venv = tmp_path / "venv"
    with listening_socket() as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            ["make", "--no-print-directory", "run", f"PORT={port}", f"VENV={venv}"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
            env=clean_env())
    assert result.returncode != 0
    assert result.stderr.splitlines()[0].startswith(f"Port {port} on 127.0.0.1 is already in use")
    assert result.stdout == ""
    assert not venv.exists()  # nothing installed
