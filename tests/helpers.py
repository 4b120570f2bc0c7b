"""Run Python code in a fresh interpreter, as a separate process would see Citewise; run
a coroutine on an event loop of its own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Variables that would leak the suite's own configuration into a "fresh" process.
_CONFIG_PREFIXES = ("CITEWISE_", "DATABASE_URL", "REDIS_URL", "CELERY_", "VLLM_", "DJANGO_")


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIG_PREFIXES)}
    env.update(overrides)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_command([sys.executable, "-c", code], env)


def run_command(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def modules_loaded_by(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` are in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(','.join(n for n in {names!r} if n in sys.modules))"
    result = run_python(probe, clean_env())
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return [name for name in result.stdout.strip().split(",") if name]


def settings_in_fresh_process(env: dict[str, str], *names: str) -> dict:
    """Import citewise.settings in a new interpreter and return the named settings."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"values = {{n: getattr(settings, n, None) for n in {list(names)!r}}}; "
        "print(json.dumps(values, default=str))"
    )
    result = run_python(code, {**env, "DJANGO_SETTINGS_MODULE": "citewise.settings"})
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_alone(coroutine):
    """asyncio.run on a thread of its own: in the whole suite, the browser tests'
    Playwright (sync API) keeps an event loop running on the main thread, where
    asyncio.run refuses to start another."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
