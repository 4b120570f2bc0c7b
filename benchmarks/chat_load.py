"""The chat under load: --clients concurrent streaming conversations for --seconds against
one web process; errors, time to first token and the web process's peak memory.

    .venv/bin/python benchmarks/chat_load.py [--clients 50] [--seconds 120] [--turns 5]
        [--json] [--no-write]

Runs Citewise as `make run` serves it (one uvicorn process, `manage.py serve`'s command
line; no worker is needed to answer) on a fresh data directory and the embedded
database (SQLite; DATABASE_URL in the environment is used instead when set), with the
same knowledge base as benchmarks/api_load.py (Citewise's own docs/, ingested
synchronously) and the extractive backend, so the numbers are Citewise's, not a model's.

Each client is a person in the chat page: it signs in through the login form (its own
session, as user `reader`, who may read the knowledge base) and POSTs questions to
/chat/messages/, the chat page's own SSE stream, with the CSRF token the page would
send. A conversation is --turns questions, the later ones as follow-ups in the same
conversation (the start event's conversation_id); then the client starts a new one,
until --seconds have passed (streams under way then are finished and counted).

Time to first token = POST sent to the first `text` or `not_found` event read.
Error = a status other than 200, an `error` event, or a stream that ends without `done`.
Peak RSS = the web process's VmHWM (/proc/PID/status) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.api_load import DEMO, QUESTIONS, manage, prepare, site_env, start_web, stop  # noqa: E402

READER, PASSWORD = "reader", "bench-reader-pw-1"
_READER_SETUP = (
    "from django.contrib.auth import get_user_model; "
    "from citewise.knowledge.models import KnowledgeBase; "
    f"user = get_user_model().objects.create_user({READER!r}, password={PASSWORD!r}); "
    f"kb = KnowledgeBase.objects.get(slug={DEMO!r}); kb.reader_users.add(user); print(kb.pk)")


@dataclass
class Tally:
    first_token: list[float] = field(default_factory=list)  # seconds, per answer
    answers: int = 0
    refusals: int = 0
    conversations: int = 0
    errors: list[str] = field(default_factory=list)


async def sign_in(client) -> None:
    """The login form, as a browser fills it; raises unless it signs in."""
    page = await client.get("/accounts/login/")
    page.raise_for_status()
    response = await client.post("/accounts/login/", data={
        "username": READER, "password": PASSWORD,
        "csrfmiddlewaretoken": client.cookies["csrftoken"]}, follow_redirects=False)
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed: HTTP {response.status_code}")


async def ask(client, kb_id: int, question: str, conversation: int | None,
              tally: Tally) -> int | None:
    """One streamed answer; returns its conversation id (None after an error)."""
    data = {"question": question, "knowledge_base": str(kb_id)}
    if conversation is not None:
        data["conversation"] = str(conversation)
    began = time.perf_counter()
    first, event, done = None, "", False
    async with client.stream("POST", "/chat/messages/", data=data, headers={
            "X-CSRFToken": client.cookies["csrftoken"]}) as response:
        if response.status_code != 200:
            tally.errors.append(f"HTTP {response.status_code}: {(await response.aread())[:200]}")
            return None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event in ("text", "not_found") and first is None:
                    first = time.perf_counter() - began
                done = done or event == "done"
                tally.refusals += event == "not_found"
            elif line.startswith("data: ") and event == "start":
                conversation = json.loads(line[6:])["conversation_id"]
            elif line.startswith("data: ") and event == "error":
                tally.errors.append(f"error event: {line[6:200]}")
                return None
    if not done or first is None:
        tally.errors.append("the stream ended without done" if not done else "no text")
        return None
    tally.first_token.append(first)
    tally.answers += 1
    return conversation


async def person(client, kb_id: int, questions, deadline: float, turns: int,
                 tally: Tally) -> None:
    """Conversations of `turns` questions until the deadline (a signed-in client)."""
    import httpx

    while time.monotonic() < deadline:
        conversation = None
        tally.conversations += 1
        for _ in range(turns):
            if time.monotonic() >= deadline:
                break
            try:
                conversation = await ask(client, kb_id, next(questions), conversation, tally)
            except httpx.HTTPError as error:
                tally.errors.append(f"{type(error).__name__}: {error}")
                conversation = None
            if conversation is None:
                break


async def load(url: str, kb_id: int, clients: int, seconds: float, turns: int) -> dict:
    """Sign everyone in and answer one question (the web process loads its models on the
    first), then the timed run; returns the tally and its wall time."""
    import httpx

    questions = itertools.cycle(QUESTIONS)
    people = [httpx.AsyncClient(base_url=url, timeout=300) for _ in range(clients)]
    try:
        await asyncio.gather(*(sign_in(client) for client in people))
        warm_up = Tally()
        began = time.perf_counter()
        await ask(people[0], kb_id, next(questions), None, warm_up)
        cold = time.perf_counter() - began
        if warm_up.errors:
            raise RuntimeError(f"the warm-up question failed: {warm_up.errors}")
        tally = Tally()
        began = time.perf_counter()
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(person(client, kb_id, questions, deadline, turns, tally)
                               for client in people))
        return {"tally": tally, "wall": time.perf_counter() - began, "cold": cold}
    finally:
        await asyncio.gather(*(client.aclose() for client in people))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def percentile_ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return round(1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def run(clients: int, seconds: float, turns: int) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="citewise-chat-load-"))
    env = site_env(data_dir)
    try:
        prepare(env)
        kb_id = int(manage(env, "shell", "-c", _READER_SETUP).strip().splitlines()[-1])
        url, process = start_web(env, data_dir / "web.log")
        try:
            rss_idle, load_before = peak_rss_mb(process.pid), os.getloadavg()[0]
            outcome = asyncio.run(load(url, kb_id, clients, seconds, turns))
            tally, wall = outcome["tally"], outcome["wall"]
            rss_peak, load_after = peak_rss_mb(process.pid), os.getloadavg()[0]
        finally:
            stop(process)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    times = tally.first_token
    return {"clients": clients, "seconds": seconds, "turns": turns, "wall_s": round(wall, 1),
            "conversations": tally.conversations, "answers": tally.answers,
            "refusals": tally.refusals, "errors": len(tally.errors),
            "error_samples": tally.errors[:5],
            "answers_per_s": round(tally.answers / wall, 2),
            "first_answer_cold_s": round(outcome["cold"], 1),
            "first_token_p50_ms": round(1000 * statistics.median(times), 1) if times else None,
            "first_token_p95_ms": percentile_ms(times, 0.95) if times else None,
            "web_rss_idle_mb": round(rss_idle), "web_rss_peak_mb": round(rss_peak),
            # Load average (1 min) before and after: other work on the machine shows.
            "load_before": round(load_before, 1), "load_after": round(load_after, 1)}


def write_results(result: dict, command: str) -> None:
    lines = [
        "", f"## Chat under load ({time.strftime('%Y-%m-%d')})", "",
        f"`{command}`: {result['clients']} signed-in people, each in its own session, "
        f"streaming answers from the chat page's own SSE endpoint (/chat/messages/) for "
        f"{result['seconds']:g} s against one uvicorn process, {result['turns']} questions "
        f"per conversation, extractive backend, {_database()}, the docs/ knowledge base. "
        f"Machine: {platform.machine()}, {_cores()} cores, Python "
        f"{platform.python_version()}; 1-minute load average {result['load_before']} before "
        f"the run and {result['load_after']} after it (the load includes the run itself).", "",
        "| conversations | answers | answers/s | errors | first token p50 | p95 "
        "| web RSS idle -> peak |",
        "|---|---|---|---|---|---|---|",
        f"| {result['conversations']} | {result['answers']} | {result['answers_per_s']} "
        f"| {result['errors']} | {result['first_token_p50_ms']} ms "
        f"| {result['first_token_p95_ms']} ms "
        f"| {result['web_rss_idle_mb']} -> {result['web_rss_peak_mb']} MB |", ""]
    with (ROOT / "benchmarks" / "RESULTS.md").open("a") as out:
        out.write("\n".join(lines))


def _database() -> str:
    return ("PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres")
            else "SQLite")


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = run(args.clients, args.seconds, args.turns)
    print(json.dumps(result, indent=2) if args.json else
          f"{result['answers']} answers, {result['errors']} errors, first token p50 "
          f"{result['first_token_p50_ms']} ms p95 {result['first_token_p95_ms']} ms, web "
          f"RSS peak {result['web_rss_peak_mb']} MB")
    if not args.no_write:
        write_results(result, "python " + " ".join(["benchmarks/chat_load.py", *sys.argv[1:]]))
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
