"""Start and stop real Celery worker processes for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from citewise.celery import app as celery_app

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90


def database_url(settings_dict: dict) -> str:
    """The URL of the database the tests use now (the test database, once created)."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{settings_dict['NAME']}"


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    hostname: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL, as when the machine or the OOM killer takes the worker away."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(label: str, *, beat: bool = False, loglevel: str = "INFO",
                 **env_overrides: str) -> WorkerProcess:
    """A worker on the test database, logging at `loglevel`; with `beat`, it also runs
    the periodic tasks (the reconciler every CITEWISE_RECONCILE_SECONDS)."""
    hostname = f"pytest-{label}-{uuid.uuid4().hex[:8]}@localhost"
    # The checkout's own code, even where an installed copy of Citewise is on the path.
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
           "PYTHONPATH": f"{REPO_ROOT / 'platform'}{os.pathsep}{REPO_ROOT}", **env_overrides}
    log_path = Path(settings.DATA_DIR) / f"worker-{hostname.split('@')[0]}.log"
    # Leftover messages from an earlier run would reference rows that no longer exist.
    celery_app.control.purge()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "citewise", "worker",
             "--queues", "default,ingest", "--concurrency", "1", "--hostname", hostname,
             "--without-gossip", "--without-mingle", "--loglevel", loglevel,
             *(["--beat", "--schedule", str(log_path.with_suffix(".beat"))] if beat else [])],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process, hostname, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}:\n{worker.log()[-3000:]}")
        replies = celery_app.control.ping(destination=[hostname], timeout=1.0)
        if any(hostname in reply for reply in replies):
            return worker
    worker.kill()
    raise RuntimeError(f"worker did not answer within {START_TIMEOUT} s:\n{worker.log()[-3000:]}")
