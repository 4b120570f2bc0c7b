"""The API under load: requests per second and latency of search and ask at 1, 10 and 50
concurrent clients, time to first token through /v1/chat/completions, and what the HTTP
layer costs against calling the same services in-process.

    .venv/bin/python benchmarks/api_load.py [--clients 1,10,50] [--requests 8] [--json]
        [--no-write]

Runs Citewise as `make run` serves it (one uvicorn process, `manage.py serve`'s command
line) on a fresh data directory and the embedded database (SQLite; DATABASE_URL in the
environment is used instead when set). The demo knowledge base (Citewise's own docs/) is
ingested synchronously, an API key with the ask and search scopes and no practical rate
limit is made with `manage.py apikey create`, and the answers come from the extractive
backend (no LLM: the benchmark measures Citewise, not a model).

Each level of concurrency starts that many asyncio clients (httpx, one connection each);
each sends --requests requests one after another, each with the next question of a pool
built from the docs' section headings (questions()).
Requests per second = all requests / wall time of the level; latency = each request's
send-to-last-byte time (for the stream: send-to-first-content-delta).

API overhead: the same questions asked in this process (citewise.knowledge.search.search
and citewise.chat.services.ask as the key's actor, on the same database and indexes,
after a warm-up) against the API at one client; ratio = API p50 / in-process p50.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = "citewise-docs"
TEMPLATES = ("What does the documentation say about {}?", "Tell me about {}.",
             "{}: how does it work?")


def questions() -> list[str]:
    """Distinct questions, one per template and section heading of docs/ (about 150): a
    request never repeats one of the last 32, so the extractive step's per-question cache
    (32 entries) never answers for it and every request does a new question's work."""
    headings = sorted({line.lstrip("#").strip().replace("`", "").rstrip(".").lower()
                       for path in (ROOT / "docs").glob("*.md")
                       for line in path.read_text().splitlines() if line.startswith("## ")})
    return [template.format(heading) for template in TEMPLATES for heading in headings]


QUESTIONS = questions()


# ----- the site ----------------------------------------------------------------------------

def site_env(data_dir: Path) -> dict[str, str]:
    from tests.helpers import clean_env

    extra = {"CITEWISE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
             "DJANGO_SETTINGS_MODULE": "citewise.settings", "CITEWISE_LOG_LEVEL": "WARNING",
             "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)])}
    if os.environ.get("DATABASE_URL"):
        extra["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return clean_env(**extra)


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def prepare(env: dict[str, str]) -> str:
    """Migrated database, the demo knowledge base indexed; returns a new API key."""
    manage(env, "migrate", "--verbosity", "0")
    env_admin = {**env, "CITEWISE_ADMIN_USER": "owner", "CITEWISE_ADMIN_PASSWORD": "bench-pw-1"}
    manage(env_admin, "ensure_admin")
    manage(env, "ingest", *sorted(str(p) for p in (ROOT / "docs").glob("*.md")), "--kb", DEMO,
           "--create", "--sync")
    return manage(env, "apikey", "create", "--name", "bench", "--kb", DEMO, "--scope",
                  "ask,search", "--rate-limit", "1000000").strip().splitlines()[-1]


def start_web(env: dict[str, str], log: Path) -> tuple[str, subprocess.Popen]:
    from citewise.ops.management.commands.serve import web_command
    from tests.integration.live_server import free_port

    port = free_port()
    process = subprocess.Popen(web_command("127.0.0.1", port), cwd=ROOT, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the web server did not start: see {log}")
        time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# ----- the load ----------------------------------------------------------------------------

async def _search(client, question: str) -> float:
    began = time.perf_counter()
    response = await client.post("/api/v1/search", json={"query": question, "k": 10})
    response.raise_for_status()
    return time.perf_counter() - began


async def _ask(client, question: str) -> float:
    began = time.perf_counter()
    response = await client.post("/api/v1/ask", json={"question": question})
    response.raise_for_status()
    _refused.append(response.json()["not_found"])
    return time.perf_counter() - began


async def _first_token(client, question: str) -> float:
    """Send to the first content delta of a streamed /v1/chat/completions answer."""
    began = time.perf_counter()
    body = {"model": DEMO, "stream": True, "messages": [{"role": "user", "content": question}]}
    first = None
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():  # read to the end, as a client does
            if first is None and line.startswith("data: {") and json.loads(line[6:])[
                    "choices"][0]["delta"].get("content"):
                first = time.perf_counter() - began
    if first is not None:
        return first
    raise RuntimeError("the stream ended without content")


_refused: list[bool] = []  # per ask: "not found" (reported, so a refusing run shows)
_questions = itertools.cycle(QUESTIONS)  # shared by all clients: the next new question
OPERATIONS = {"search": _search, "ask": _ask, "chat_completions_stream": _first_token}


async def level(url: str, key: str, operation: str, clients: int, requests: int) -> dict:
    import httpx

    call = OPERATIONS[operation]
    latencies: list[float] = []
    asked: list[str] = []

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=300, headers={
                "Authorization": f"Bearer {key}"}) as client:
            for _ in range(requests):
                asked.append(next(_questions))
                latencies.append(await call(client, asked[-1]))

    _refused.clear()
    began = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    wall = time.perf_counter() - began
    return {"operation": operation, "clients": clients, "requests": len(latencies),
            "wall_s": wall, "rps": len(latencies) / wall, **percentiles(latencies),
            "not_found": sum(_refused), "questions": asked}


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"p50_ms": 1000 * statistics.median(ordered),
            "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]}


# ----- in-process --------------------------------------------------------------------------

def in_process(env: dict[str, str], key: str, asked: dict[str, list[str]]) -> dict:
    """The services called directly, as the API's views call them, for the key's actor,
    with the questions the API was sent at one client (`asked`: operation -> questions)."""
    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    import django

    django.setup()
    from citewise.accounts import keys
    from citewise.chat.events import AskResult
    from citewise.chat.services import ask
    from citewise.knowledge.permissions import KeyActor
    from citewise.knowledge.search import search

    actor = KeyActor(keys.check(key))

    def one_ask(question: str) -> None:
        assert any(isinstance(e, AskResult) for e in ask(actor, question))

    timed = {}
    calls = {"search": lambda q: search(actor, q, k=10), "ask": one_ask}
    for name, questions_sent in asked.items():
        call = calls[name]
        for _ in range(3):  # warm-up: models loaded, as in the server
            call(next(_questions))
        seconds = []
        for question in questions_sent:
            began = time.perf_counter()
            call(question)
            seconds.append(time.perf_counter() - began)
        timed[name] = percentiles(seconds)
    return timed


# ----- the run -----------------------------------------------------------------------------

def run(clients: list[int], requests: int, operations: list[str]) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="citewise-api-load-"))
    env = site_env(data_dir)
    try:
        key = prepare(env)
        url, web = start_web(env, data_dir / "web.log")
        try:
            rows = []
            for operation in operations:
                asyncio.run(level(url, key, operation, 1, 3))  # warm-up: models loaded
                for count in clients:
                    rows.append(asyncio.run(level(url, key, operation, count, requests)))
                    print(json.dumps({k: v for k, v in rows[-1].items() if k != "questions"}),
                          file=sys.stderr)
        finally:
            stop(web)
        one = {row["operation"]: row for row in rows if row["clients"] == 1}
        direct = in_process(env, key, {name: one[name]["questions"] for name in one
                                       if name in ("search", "ask")})
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    overhead = {name: {"api_p50_ms": one[name]["p50_ms"], "in_process_p50_ms": t["p50_ms"],
                       "ratio": one[name]["p50_ms"] / t["p50_ms"]}
                for name, t in direct.items()}
    return {"rows": rows, "overhead": overhead, "requests_per_client": requests,
            "database": "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"}


def report(result: dict, command: str) -> str:
    lines = [f"Command: `{command}`; machine: {os.cpu_count()} CPU cores, "
             f"{platform.system()} {platform.machine()}, Python {platform.python_version()}; "
             f"database {result['database']}; one uvicorn process; extractive answers; "
             f"{result['requests_per_client']} requests per client.", "",
             "| operation | clients | requests | req/s | p50 ms | p95 ms | not found |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['operation']} | {r['clients']} | {r['requests']} | {r['rps']:.1f} | "
              f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
              f"{r['not_found'] if r['operation'] == 'ask' else ''} |" for r in result["rows"]]
    lines += ["", "API layer overhead at one client (p50):", ""]
    lines += [f"- {name}: API {o['api_p50_ms']:.0f} ms, in-process {o['in_process_p50_ms']:.0f} "
              f"ms, ratio {o['ratio']:.2f}" for name, o in result["overhead"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--requests", type=int, default=8, help="requests per client")
    parser.add_argument("--operations", default=",".join(OPERATIONS),
                        help=f"comma-separated, of: {', '.join(OPERATIONS)}")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    result = run([int(c) for c in args.clients.split(",")], args.requests,
                 args.operations.split(","))
    text = report(result, "python " + " ".join(sys.argv))
    print(json.dumps(result, indent=2) if args.json else text)
    if not args.no_write:
        results = ROOT / "benchmarks" / "RESULTS.md"
        results.write_text(results.read_text() + "\n## The API under load (issue 12)\n\n"
                           + text + "\n")


if __name__ == "__main__":
    main()
