"""`manage.py serve`: what `make run` runs. The web server and a worker, together.

1. Migrate the database, collect the static files, make sure an admin account exists
   and load the demo knowledge base (Citewise's own docs) on the first start.
2. Start the ASGI server (uvicorn) and a Celery worker as child processes, each in its
   own process group, so Ctrl-C reaches only this command, which then stops both in
   order (a second Ctrl-C from the terminal would make Celery abandon running tasks).
3. Print the URL once the web server answers.
4. If either child exits, stop the other and exit non-zero; Ctrl-C exits 0.
Running it again is safe: every step checks what is already there.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

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
        call_command("migrate", interactive=False, verbosity=0)
        # Compressed copies of the static files (gzip, brotli), which whitenoise serves.
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensure_admin")
        call_command("load_demo")
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
        announced = warned = False
        started = time.monotonic()
        exit_code = 0
        while not stopping:
            exited = {name: child.returncode for name, child in children.items()
                      if child.poll() is not None}
            if exited:
                for name, code in exited.items():
                    self.stderr.write(f"The {name} process exited with status {code}; stopping.")
                exit_code = 1
                break
            if not announced and _answers(f"http://{_probe_host(host)}:{port}/healthz"):
                announced = True
                self.stdout.write(self.style.SUCCESS(
                    f"Citewise is running at {url}  (readiness: {url}readyz). "
                    "Press Ctrl-C to stop."
                ))
            elif not announced and not warned and time.monotonic() - started > WEB_START_TIMEOUT:
                warned = True
                self.stderr.write(f"The web server has not answered in {WEB_START_TIMEOUT} s.")
            time.sleep(0.5)
        self.stdout.write("Stopping the web server and the worker...")
        _stop_all(children.values())
        self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)


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
    children = [child for child in children if child.poll() is None]
    for child in children:
        child.send_signal(signal.SIGTERM)  # both finish what they are doing, then exit
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
