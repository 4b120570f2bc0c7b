"""Cold start: how long a new process takes to answer, or to report ready.

    .venv/bin/python benchmarks/cold_start.py [--runs 5] [--data-dir DIR --kb SLUG]
        [--question Q] [--label NAME] [--no-write]

Each run starts fresh processes, as a person typing the command would (the operating
system's file cache stays warm: a second command a minute after the first is the case
that matters):
- ask: `manage.py ask Q --kb SLUG` (the extractive backend, the embedded default), wall
  time from spawn to exit;
- search: `manage.py search Q --kb SLUG`, likewise;
- worker ready: the Celery worker `manage.py serve` starts, from spawn to its first
  answer to a control ping (what /readyz's worker check asks);
- web ready: the ASGI server `manage.py serve` starts (with that worker running), from
  spawn to /readyz answering 200.
Then one more ask and one more search, each in a fresh process with probes wrapped
around the stages (no product change): interpreter start, Django setup, loading the
command's modules, Django's system checks, the embedding model, the vector and lexical
index files, the Korean tokenizer, the entailment model, and the rest (the query itself,
the database, the answer). Times are exclusive: a stage inside another is not counted
twice.

Without --data-dir it makes a data directory and ingests docs/*.md into a knowledge base
`docs` first (about a minute; reuse it with --data-dir and --kb). Settings such as
CITEWISE_EMBEDDING_BACKEND pass through from the environment and are printed.
Results go to benchmarks/RESULTS.md (section "cold-start-NAME", --label) unless
--no-write.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "platform"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchmarks.answer_quality import (  # noqa: E402
    command_line,
    log,
    machine_facts,
    percentile,
    write_section,
)

QUESTION = "Which address does make run listen on?"
READY_TIMEOUT = 180.0
SETTINGS_SHOWN = ("CITEWISE_EMBEDDING_BACKEND", "CITEWISE_ENTAILMENT_MODEL",
                  "CITEWISE_ANSWER_BACKEND", "DATABASE_URL")

# Runs in the measured process: wraps the stages, runs the command as manage.py would,
# prints the stages as JSON on the last line. The command's own output is discarded.
PROBE = r"""
import time
SPAWNED_AT = float(__import__("os").environ["COLD_START_SPAWNED_AT"])
started = time.time()
import contextlib, io, json, sys
stages = {"interpreter start": started - SPAWNED_AT}
stack = []

def timed(name, owner, attribute):
    inner = getattr(owner, attribute)
    def wrapper(*args, **kwargs):
        began = time.time()
        stack.append(0.0)
        try:
            return inner(*args, **kwargs)
        finally:
            spent = time.time() - began
            nested = stack.pop()
            stages[name] = stages.get(name, 0.0) + spent - nested
            if stack:
                stack[-1] += spent
    setattr(owner, attribute, wrapper)

import django
import django.core.management as management
from django.core.management import base
import retrieval.embedder, retrieval.lexical, retrieval.vector_store, textproc.tokens
import inference.entailment
timed("django setup", django, "setup")
timed("command modules import", management, "load_command_class")
timed("system checks", base.BaseCommand, "check")
timed("embedding model load", retrieval.embedder, "_load")
timed("vector index load", retrieval.vector_store.VectorStore, "_read_index")
timed("lexical index load", retrieval.lexical.LexicalStore, "_read_matrix")
timed("Korean tokenizer load", textproc.tokens, "_kiwi")
timed("entailment model load", inference.entailment.EntailmentModel, "__init__")
stages["probe set-up (numpy, our packages)"] = time.time() - started
before = time.time()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        management.ManagementUtility(["manage.py", *sys.argv[1:]]).execute()
    except SystemExit as exit:
        if exit.code:
            raise
accounted = sum(v for k, v in stages.items()
                if k not in ("interpreter start", "probe set-up (numpy, our packages)"))
stages["the rest (query, database, answer)"] = time.time() - before - accounted
stages["total"] = time.time() - SPAWNED_AT
import resource
stages["peak RSS, MiB (models and indexes loaded)"] = (
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(stages))
"""


def product_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CITEWISE_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="citewise.settings",
               PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT),
                                           env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


def prepare(data_dir: Path | None, kb: str) -> tuple[Path, str]:
    """An existing data directory, or a new one with docs/*.md ingested as `docs`."""
    if data_dir is not None:
        return data_dir, kb
    data_dir = Path(tempfile.mkdtemp(prefix="citewise-cold-start-"))
    env = product_env(data_dir)
    log(f"Ingesting docs/*.md into {data_dir} (about a minute)...")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "ingest", *sorted(map(str, (ROOT / "docs").glob("*.md"))),
                    "--kb", "docs", "--create", "--sync"], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return data_dir, "docs"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_command(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one cold command. On a busy machine the CPU time is the
    better guide to what a quiet one would take (most of a cold start is one thread)."""
    began, cpu = time.monotonic(), children_cpu()
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *argv], env=env,
                            cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed:\n{result.stderr[-2000:]}")
    return time.monotonic() - began, children_cpu() - cpu


def breakdown(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    env = {**env, "COLD_START_SPAWNED_AT": repr(time.time())}
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"probe of {argv[0]} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our server
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until(ready, process: subprocess.Popen, what: str) -> float:
    began = time.monotonic()
    while time.monotonic() - began < READY_TIMEOUT:
        if process.poll() is not None:
            raise RuntimeError(f"the {what} exited with status {process.returncode}")
        if ready():
            return time.monotonic() - began
        time.sleep(0.1)
    raise RuntimeError(f"the {what} was not ready within {READY_TIMEOUT:.0f} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss_mib(pid: int) -> float:
    """Resident memory of a running process (Linux), MiB; nan where /proc is missing."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) / 1024


def servers_ready(env: dict[str, str]) -> tuple[float, float, float, float]:
    """(worker ready, web ready) in seconds, each from its own spawn, then the worker's and
    the web process's resident memory (MiB) when ready (models load on first use)."""
    from citewise.celery import app
    from citewise.ops.management.commands.serve import web_command, worker_command

    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": ROOT}
    worker = subprocess.Popen(worker_command(1), **quiet)
    web = None
    try:
        # Each ping waits up to its timeout for replies; limit=1 returns at the first.
        worker_s = wait_until(lambda: bool(app.control.ping(timeout=0.5, limit=1)), worker,
                              "worker")
        web = subprocess.Popen(web_command("127.0.0.1", port), **quiet)
        web_s = wait_until(lambda: answers_200(f"http://127.0.0.1:{port}/readyz"), web, "web")
        memory = rss_mib(worker.pid), rss_mib(web.pid)
    finally:
        for process in (web, worker):
            if process is not None:
                stop(process)
    return worker_s, web_s, *memory


def summary_line(name: str, values: list[float]) -> str:
    return (f"| {name} | {percentile(values, 50):.1f} | {max(values):.1f} | "
            f"{', '.join(f'{v:.1f}' for v in values)} |")


def report(label: str, runs: dict[str, list[float]], stages: dict[str, dict[str, float]],
           command: str, question: str) -> str:
    shown = ", ".join(f"{name}={os.environ[name]}" for name in SETTINGS_SHOWN
                      if os.environ.get(name)) or "defaults"
    lines = [
        f"### Cold start: {label}", "",
        f"Command: `{command}`; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"settings: {shown}.", "",
        f"Machine: {machine_facts()}.", "",
        f"Question: \"{question}\" (extractive answers). Seconds from spawn:", "",
        "| | p50 | max | runs |", "|---|---|---|---|",
        summary_line("`manage.py ask`", runs["ask"]),
        summary_line("`manage.py ask`, CPU seconds", runs["ask cpu"]),
        summary_line("`manage.py search`", runs["search"]),
        summary_line("`manage.py search`, CPU seconds", runs["search cpu"]),
        summary_line("worker ready (ping answered)", runs["worker"]),
        summary_line("web ready (/readyz 200, worker up)", runs["web"]),
        summary_line("worker resident memory when ready, MiB", runs["worker MiB"]),
        summary_line("web resident memory when ready (no model loaded yet), MiB",
                     runs["web MiB"]),
        "", "Where one cold ask and one cold search spend their time (s):", "",
        "| stage | ask | search |", "|---|---|---|",
    ]
    names = list(dict.fromkeys([*stages["ask"], *stages["search"]]))
    for name in names:
        lines.append(f"| {name} | {stages['ask'].get(name, 0.0):.2f} | "
                     f"{stages['search'].get(name, 0.0):.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--kb", default="docs")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--label", default="now")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    command = command_line("benchmarks/cold_start.py")
    data_dir, kb = prepare(args.data_dir, args.kb)
    env = product_env(data_dir)
    os.environ.update(CITEWISE_DATA_DIR=str(data_dir),
                      DJANGO_SETTINGS_MODULE="citewise.settings")
    import django

    django.setup()
    ask_argv = ["ask", args.question, "--kb", kb]
    search_argv = ["search", args.question, "--kb", kb]
    runs: dict[str, list[float]] = {name: [] for name in (
        "ask", "ask cpu", "search", "search cpu", "worker", "web", "worker MiB", "web MiB")}
    for n in range(1, args.runs + 1):
        for name, argv in (("ask", ask_argv), ("search", search_argv)):
            wall, cpu = timed_command(argv, env)
            runs[name].append(wall)
            runs[f"{name} cpu"].append(cpu)
        for name, value in zip(("worker", "web", "worker MiB", "web MiB"), servers_ready(env),
                               strict=True):
            runs[name].append(value)
        log(f"run {n}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in runs.items()))
    stages = {"ask": breakdown(ask_argv, env), "search": breakdown(search_argv, env)}
    body = report(args.label, runs, stages, command, args.question)
    print(body)
    if not args.no_write:
        write_section(f"cold-start-{args.label}", body)


if __name__ == "__main__":
    main()
