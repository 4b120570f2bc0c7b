"""What Citewise adds around the LLM, against a real vLLM server.

    .venv/bin/python benchmarks/answer_overhead.py [--questions 12] [--pages N] [--json]
        [--no-write]

Starts the vLLM server of the test suite (tests/vllm/server.py: CPU build, the tiny
random-weight model, --max-model-len 512), then runs the product on a fresh data
directory with ANSWER_BACKEND=vllm, VLLM_CONTEXT_LENGTH=512, VLLM_MAX_TOKENS=16: the
python-faq pages ingested through add_document + ingest, and the first --questions FAQ
questions asked through chat.services.ask as SYSTEM.

Phases are timed from outside the product, by wrapping module attributes and the cached
backend's methods (no product code changes):
- search: citewise.chat.services.search
- answerability: from the end of search to the backend's stream() call (extractive
  sentence scoring, which embeds every sentence of the sources, and the decision)
- prompt: time inside VLLMBackend.stream minus time inside stream_messages
- llm: time inside stream_messages' generator (HTTP, queueing and generation)
- parsing: time between the backend's events spent in ask() (citation parser, yielding)
- verification: citewise.chat.services.Verifier.verify
- storage and the rest: what is left (conversation, messages and citations rows)
Overhead = total ask() time - llm.

Time to first token: ask() call -> first AskText, against the official openai client
sending the very prompt Citewise built (captured from stream_messages) straight to the
same server -> first content delta. Order per question: ask (cold: it is what a user
sees; the server has not seen the prompt), direct, ask again (so both it and the direct
request find the prompt in vLLM's prefix cache); the ratio is taken with the second ask
(like for like) and reported for both. The product's extractive scoring cache (per
question and sources) is emptied before every ask, so each does a new question's work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "platform"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchmarks.answer_quality import (  # noqa: E402
    EVAL,
    command_line,
    log,
    machine_facts,
    percentile,
    python_faq_questions,
    write_section,
)

PHASES = ("search", "answerability", "prompt", "llm", "parsing", "verification", "storage")


class Clock:
    """Per-ask timings, filled by the wrappers."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.t: dict[str, float] = dict.fromkeys(
            ("search", "verification", "stream_inner", "llm"), 0.0)
        self.search_end = self.stream_called = self.stream_done = None
        self.messages = None


def _timed_iter(iterable, add):
    """Yield from iterable, adding the time spent inside it to add(seconds)."""
    iterator = iter(iterable)
    while True:
        began = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            add(time.perf_counter() - began)
            return
        add(time.perf_counter() - began)
        yield item


def instrument(clock: Clock) -> None:
    from citewise.chat import backends, services

    search = services.search

    def timed_search(*args, **kwargs):
        began = time.perf_counter()
        try:
            return search(*args, **kwargs)
        finally:
            clock.search_end = time.perf_counter()
            clock.t["search"] += clock.search_end - began

    services.search = timed_search

    class TimedVerifier(services.Verifier):
        def verify(self, *args, **kwargs):
            began = time.perf_counter()
            try:
                return super().verify(*args, **kwargs)
            finally:
                clock.t["verification"] += time.perf_counter() - began

    services.Verifier = TimedVerifier

    backend = backends.vllm_backend()
    stream, stream_messages = backend.stream, backend.stream_messages

    def add(key):
        def adder(seconds: float) -> None:
            clock.t[key] += seconds
        return adder

    def timed_stream(request):
        clock.stream_called = time.perf_counter()
        yield from _timed_iter(stream(request), add("stream_inner"))
        clock.stream_done = time.perf_counter()

    def timed_stream_messages(messages, **kwargs):
        clock.messages = [dict(m) for m in messages]
        yield from _timed_iter(stream_messages(messages, **kwargs), add("llm"))

    backend.stream = timed_stream
    backend.stream_messages = timed_stream_messages


def ask_timed(clock: Clock, question: str, kb) -> dict:
    from citewise.chat.services import AskResult, AskText, ask
    from citewise.knowledge.permissions import SYSTEM

    clock.reset()
    began = time.perf_counter()
    first = None
    result = None
    for event in ask(SYSTEM, question, knowledge_bases=[kb]):
        if isinstance(event, AskText) and first is None:
            first = time.perf_counter() - began
        if isinstance(event, AskResult):
            result = event
    total = time.perf_counter() - began
    row = {"total": total, "ttft": first if first is not None else total,
           "not_found": result.not_found,
           "backend": result.backend, "completion_tokens": result.usage.completion_tokens,
           "prompt_tokens": result.usage.prompt_tokens, "messages": clock.messages}
    if clock.stream_called is None:  # refused: no LLM call
        return row
    t = clock.t
    row.update(
        search=t["search"],
        answerability=clock.stream_called - clock.search_end,
        prompt=t["stream_inner"] - t["llm"],
        llm=t["llm"],
        parsing=(clock.stream_done - clock.stream_called) - t["stream_inner"],
        verification=t["verification"],
    )
    before_search = clock.search_end - t["search"] - began  # access check, conversation
    after_stream = began + total - clock.stream_done  # verification, storage
    row["storage"] = before_search + after_stream - t["verification"]
    row["overhead"] = total - t["llm"]
    return row


def direct_ttft(client, model: str, messages: list[dict], max_tokens: int) -> tuple[float, float]:
    """(time to first content delta, total) straight to vLLM with the openai client."""
    began = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model=model, messages=messages, stream=True, max_tokens=max_tokens, temperature=0.0,
        stream_options={"include_usage": True})
    for chunk in stream:
        for choice in chunk.choices:
            if first is None and choice.delta and choice.delta.content:
                first = time.perf_counter() - began
    total = time.perf_counter() - began
    return (first if first is not None else total), total


def ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 1)


# A script read top to bottom: setup, measurements, report.
def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--pages", type=int, default=9, help="python-faq pages to ingest")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    command = command_line("benchmarks/answer_overhead.py")
    started = time.perf_counter()
    from tests.vllm.server import new_workdir, start_server, vllm_missing_reason

    reason = vllm_missing_reason()
    if reason:
        sys.exit(reason)
    workdir = new_workdir()
    server = start_server(workdir)
    log(f"vLLM ready in {server.ready_s:.0f}s at {server.base_url}")
    max_tokens = 16
    try:
        data_dir = Path(tempfile.mkdtemp(prefix="citewise-answer-overhead-"))
        os.environ.update({
            "CITEWISE_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "citewise.settings",
            "CITEWISE_ANSWER_BACKEND": "vllm", "VLLM_BASE_URL": server.base_url,
            "VLLM_MODEL": server.model, "VLLM_CONTEXT_LENGTH": "512",
            "VLLM_MAX_TOKENS": str(max_tokens), "VLLM_TIMEOUT": "120",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        })
        os.environ.pop("DATABASE_URL", None)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        from io import BytesIO

        from openai import OpenAI

        from citewise.chat.backends import extractive_backend
        from citewise.knowledge.permissions import SYSTEM
        from citewise.knowledge.pipeline import ingest
        from citewise.knowledge.services import add_document, create_knowledge_base

        kb = create_knowledge_base(SYSTEM, name="Python FAQ", slug="python-faq")
        for path in sorted((EVAL / "python-faq" / "docs").glob("*.html"))[:args.pages]:
            document = add_document(SYSTEM, kb, BytesIO(path.read_bytes()),
                                    original_name=path.name, enqueue=False).document
            ingest(document.pk)
        log(f"ingested {kb.documents.count()} pages")
        clock = Clock()
        instrument(clock)
        client = OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0,
                        timeout=120)
        # Warm-up: model load, first HTTP connection, vLLM's first request.
        warm = ask_timed(clock, "Where can I read more about this documentation?", kb)
        if warm["messages"]:
            direct_ttft(client, server.model, warm["messages"], max_tokens)
        rows = []
        for question in python_faq_questions(args.questions):
            # Each ask does the whole work a new question costs: the extractive scoring
            # cache (per question and sources) is emptied before it.
            extractive_backend(kb)._cache.clear()
            cold = ask_timed(clock, question.text, kb)
            if cold.get("llm") is None:
                rows.append({"question": question.text, "cold": cold})
                continue
            direct_first, direct_total = direct_ttft(client, server.model, cold["messages"],
                                                     max_tokens)
            extractive_backend(kb)._cache.clear()
            warm = ask_timed(clock, question.text, kb)
            rows.append({"question": question.text, "cold": cold, "warm": warm,
                         "direct_ttft": direct_first, "direct_total": direct_total})
            log(f"{question.text[:50]!r}: ask {cold['total']:.2f}s (llm {cold['llm']:.2f}s), "
                f"ttft ask {cold['ttft']:.2f}/{warm['ttft']:.2f}s direct {direct_first:.3f}s")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    answered = [r for r in rows if "warm" in r]
    asks = [r["cold"] for r in answered] + [r["warm"] for r in answered]
    summary = {
        "questions": len(rows), "answered_by_llm": len(answered),
        "refused": len(rows) - len(answered),
        "phases_ms": {p: [ms([a[p] for a in asks], 50), ms([a[p] for a in asks], 95)]
                      for p in (*PHASES, "overhead")},
        "total_ms": [ms([a["total"] for a in asks], 50), ms([a["total"] for a in asks], 95)],
        "overhead_share_p50": round(percentile([a["overhead"] / a["total"] for a in asks], 50),
                                    3),
        "ttft_ms": {
            "citewise_cold": [ms([r["cold"]["ttft"] for r in answered], 50),
                              ms([r["cold"]["ttft"] for r in answered], 95)],
            "citewise_warm": [ms([r["warm"]["ttft"] for r in answered], 50),
                              ms([r["warm"]["ttft"] for r in answered], 95)],
            "direct": [ms([r["direct_ttft"] for r in answered], 50),
                       ms([r["direct_ttft"] for r in answered], 95)],
        },
        "direct_total_ms": [ms([r["direct_total"] for r in answered], 50),
                            ms([r["direct_total"] for r in answered], 95)],
        "prompt_tokens_p50": percentile([a["prompt_tokens"] for a in asks], 50),
        "completion_tokens_p50": percentile([a["completion_tokens"] for a in asks], 50),
    }
    d50 = percentile([r["direct_ttft"] for r in answered], 50)
    summary["ttft_ratio_p50"] = {
        "warm_vs_direct (p50/p50)": round(percentile([r["warm"]["ttft"] for r in answered], 50)
                                          / d50, 1),
        "cold_vs_direct (p50/p50)": round(percentile([r["cold"]["ttft"] for r in answered], 50)
                                          / d50, 1),
        "warm_vs_direct (median of per-question ratios)": round(percentile(
            [r["warm"]["ttft"] / r["direct_ttft"] for r in answered], 50), 1),
    }
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(summary, indent=2))
    text = report(summary, command, elapsed, server.ready_s)
    print(text)
    if not args.no_write:
        write_section("answer_overhead", text)


def report(summary: dict, command: str, elapsed: float, ready_s: float) -> str:
    phases = summary["phases_ms"]
    ttft = summary["ttft_ms"]
    lines = [
        "### Citewise overhead around the LLM (real vLLM)", "",
        f"Command: `{command}` ({elapsed / 60:.1f} min; vLLM ready in {ready_s:.0f} s)", "",
        f"Machine: {machine_facts()}. vLLM CPU build from .vllm-venv serving the tiny "
        "random-weight test model (tests/vllm/build_tiny_model.py), --max-model-len 512, on "
        "the same cores as Citewise. Settings: ANSWER_BACKEND=vllm, VLLM_CONTEXT_LENGTH=512, "
        "VLLM_MAX_TOKENS=16, embedding model all-MiniLM-L6-v2, python-faq pages ingested "
        "through add_document + ingest.", "",
        f"{summary['questions']} questions; {summary['answered_by_llm']} reached the LLM "
        f"({summary['refused']} refused before it), each asked twice (cold, then warm) = "
        f"{2 * summary['answered_by_llm']} timed asks. Prompt tokens p50 "
        f"{summary['prompt_tokens_p50']}, completion tokens p50 "
        f"{summary['completion_tokens_p50']}.", "",
        "| phase | p50 ms | p95 ms |", "|---|---|---|",
        *[f"| {p} | {v[0]} | {v[1]} |" for p, v in phases.items()],
        f"| total ask() | {summary['total_ms'][0]} | {summary['total_ms'][1]} |", "",
        f"Overhead (total - llm) is {summary['overhead_share_p50']:.0%} of ask() time at "
        "the median.", "",
        "| time to first token | p50 ms | p95 ms |", "|---|---|---|",
        f"| Citewise ask(), cold | {ttft['citewise_cold'][0]} | {ttft['citewise_cold'][1]} |",
        f"| Citewise ask(), warm prefix cache | {ttft['citewise_warm'][0]} "
        f"| {ttft['citewise_warm'][1]} |",
        f"| openai client straight to vLLM, same prompt | {ttft['direct'][0]} "
        f"| {ttft['direct'][1]} |",
        f"| (direct, whole 16-token answer) | {summary['direct_total_ms'][0]} "
        f"| {summary['direct_total_ms'][1]} |", "",
        "TTFT ratio Citewise / direct: "
        + "; ".join(f"{k} {v}x" for k, v in summary["ttft_ratio_p50"].items()) + ".", "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
