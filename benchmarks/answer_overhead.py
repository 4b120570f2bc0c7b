"""What Citewise adds to the time to first token, against a real vLLM server.

    .venv/bin/python benchmarks/answer_overhead.py [--questions 12] [--rounds 3]
        [--pages 9] [--quiet-load 1.0] [--json] [--no-write]

Starts the vLLM server of the test suite (tests/vllm/server.py: CPU build, the tiny
random-weight model, --max-model-len 512; CITEWISE_VLLM_VENV names its environment), then
runs the product on a fresh data directory with ANSWER_BACKEND=vllm,
VLLM_CONTEXT_LENGTH=512, VLLM_MAX_TOKENS=16: the python-faq pages ingested through
add_document + ingest, and the first --questions FAQ questions asked through
chat.services.ask as SYSTEM.

One run gives both sides, alternately. Per question: a first ask (its prompt is new to
vLLM; reported apart), then --rounds pairs of (Citewise ask, the official openai client
sending the very prompt Citewise built straight to the same server), the order swapped
every round so neither side always finds vLLM's prefix cache warmed by the other. Time to
first token is ask() call -> first AskText, and create() -> first content delta. The
difference and the ratio are taken per pair, then summarised (p50/p95). On a shared machine
wall times mostly measure the queue for a core, so the CPU time the asking thread spends
until the first token is compared too (time.thread_time; with --torch-threads 1 the query
embedding runs on that thread as well): about what a quiet machine would add.

Stages come from the product itself: the growth of citewise_answer_stage_seconds_sum{stage}
(what /metrics serves) over each ask, so the benchmark times exactly what operators see.
`model` is the time inside the backend's stream_messages (HTTP, queueing, generation),
read by wrapping it, which also captures the prompt. The extractive scoring cache (per
question and sources) is emptied before every ask, so each does a new question's work.
`--quiet-load L` waits (up to 10 minutes) for the 1-minute load average to fall below L
before measuring: the machine is shared, and the ratio means little on a busy one.
`--torch-threads N` sets torch's intra-op threads in the Citewise process (the product
leaves torch's default, one per core), to see what a web process would gain with fewer.
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

MAX_TOKENS = 16
STAGE_METRIC = "citewise_answer_stage_seconds"


def stage_sums() -> dict[str, float]:
    """Seconds spent so far per stage, as /metrics reports them."""
    from citewise.ops.metrics import ANSWER_STAGE_LATENCY

    return {sample.labels["stage"]: sample.value
            for metric in ANSWER_STAGE_LATENCY.collect() for sample in metric.samples
            if sample.name == f"{STAGE_METRIC}_sum"}


class ModelClock:
    """Time inside the vLLM backend's stream_messages and the prompt it was sent."""

    def __init__(self) -> None:
        from citewise.chat.backends import vllm_backend

        self.seconds = 0.0
        self.messages: list[dict] | None = None
        backend = vllm_backend()
        stream_messages = backend.stream_messages

        def timed(messages, **kwargs):
            self.messages = [dict(m) for m in messages]
            iterator = iter(stream_messages(messages, **kwargs))
            while True:
                began = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    self.seconds += time.perf_counter() - began
                    return
                self.seconds += time.perf_counter() - began
                yield item

        backend.stream_messages = timed

    def reset(self) -> None:
        self.seconds, self.messages = 0.0, None


def ask_timed(model: ModelClock, question: str, kb) -> dict:
    from citewise.chat.backends import extractive_backend
    from citewise.chat.services import AskResult, AskText, ask
    from citewise.knowledge.permissions import SYSTEM

    extractive_backend(kb)._cache.clear()
    model.reset()
    before = stage_sums()
    began, cpu_began = time.perf_counter(), time.thread_time()
    first = result = cpu = None
    for event in ask(SYSTEM, question, knowledge_bases=[kb]):
        if isinstance(event, AskText) and first is None:
            first = time.perf_counter() - began
            cpu = time.thread_time() - cpu_began
        if isinstance(event, AskResult):
            result = event
    total = time.perf_counter() - began
    after = stage_sums()
    stages = {stage: after[stage] - before.get(stage, 0.0) for stage in after
              if after[stage] > before.get(stage, 0.0)}
    return {"total": total, "ttft": first if first is not None else total, "cpu": cpu or 0.0,
            "model": model.seconds, "stages": stages, "messages": model.messages,
            "not_found": result.not_found, "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens}


def direct_ttft(client, model: str, messages: list[dict]) -> tuple[float, float]:
    """(time to the first content delta, CPU time of this thread until then), straight to
    vLLM with the openai client."""
    began, cpu_began = time.perf_counter(), time.thread_time()
    first = cpu = None
    stream = client.chat.completions.create(
        model=model, messages=messages, stream=True, max_tokens=MAX_TOKENS, temperature=0.0,
        stream_options={"include_usage": True})
    for chunk in stream:
        for choice in chunk.choices:
            if first is None and choice.delta and choice.delta.content:
                first = time.perf_counter() - began
                cpu = time.thread_time() - cpu_began
    return (first if first is not None else time.perf_counter() - began), cpu or 0.0


def wait_for_quiet(limit: float | None, *, patience_s: float = 600) -> float:
    """Wait until the 1-minute load average is below `limit`; returns the load seen."""
    deadline = time.monotonic() + patience_s
    while limit is not None and os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        log(f"load {os.getloadavg()[0]:.1f} >= {limit}: waiting for a quieter machine")
        time.sleep(15)
    return os.getloadavg()[0]


def ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 1)


def setup_product(server, data_dir: Path) -> None:
    os.environ.update({
        "CITEWISE_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "citewise.settings",
        "CITEWISE_ANSWER_BACKEND": "vllm", "VLLM_BASE_URL": server.base_url,
        "VLLM_MODEL": server.model, "VLLM_CONTEXT_LENGTH": "512",
        "VLLM_MAX_TOKENS": str(MAX_TOKENS), "VLLM_TIMEOUT": "120",
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    })
    os.environ.pop("DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def ingest_faq(pages: int):
    from io import BytesIO

    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.pipeline import ingest
    from citewise.knowledge.services import add_document, create_knowledge_base

    kb = create_knowledge_base(SYSTEM, name="Python FAQ", slug="python-faq")
    for path in sorted((EVAL / "python-faq" / "docs").glob("*.html"))[:pages]:
        document = add_document(SYSTEM, kb, BytesIO(path.read_bytes()),
                                original_name=path.name, enqueue=False).document
        ingest(document.pk)
    return kb


def measure(args, server) -> tuple[list[dict], list[dict], list[str]]:
    """(first asks, pairs of ask and direct, questions refused before the LLM)."""
    from openai import OpenAI

    kb = ingest_faq(args.pages)
    log(f"ingested {kb.documents.count()} pages")
    model = ModelClock()
    client = OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0, timeout=120)
    # Warm-up: the embedding model, index files, the first HTTP connection, vLLM's first
    # request.
    warm = ask_timed(model, "Where can I read more about this documentation?", kb)
    if warm["messages"]:
        direct_ttft(client, server.model, warm["messages"])
    firsts, pairs, refused = [], [], []
    for question in python_faq_questions(args.questions):
        first = ask_timed(model, question.text, kb)
        if first["messages"] is None:
            refused.append(question.text)
            continue
        firsts.append(first)
        for round_no in range(args.rounds):
            if round_no % 2 == 0:
                direct, direct_cpu = direct_ttft(client, server.model, first["messages"])
                asked = ask_timed(model, question.text, kb)
            else:
                asked = ask_timed(model, question.text, kb)
                direct, direct_cpu = direct_ttft(client, server.model, first["messages"])
            pairs.append({**asked, "direct_ttft": direct, "direct_cpu": direct_cpu,
                          "direct_first": round_no % 2 == 0})
        last = pairs[-args.rounds:]
        log(f"{question.text[:50]!r}: ttft ask {ms([p['ttft'] for p in last], 50)} ms, "
            f"direct {ms([p['direct_ttft'] for p in last], 50)} ms")
    return firsts, pairs, refused


def summarize(firsts: list[dict], pairs: list[dict], refused: list[str]) -> dict:
    ask_ttft = [p["ttft"] for p in pairs]
    direct = [p["direct_ttft"] for p in pairs]
    difference = [p["ttft"] - p["direct_ttft"] for p in pairs]
    cpu_difference = [p["cpu"] - p["direct_cpu"] for p in pairs]
    stages = sorted({stage for p in pairs for stage in p["stages"]})
    return {
        "questions": len(firsts) + len(refused), "answered_by_llm": len(firsts),
        "refused": len(refused), "pairs": len(pairs),
        "ttft_ms": {
            "citewise": [ms(ask_ttft, 50), ms(ask_ttft, 95)],
            "direct": [ms(direct, 50), ms(direct, 95)],
            "difference": [ms(difference, 50), ms(difference, 95)],
            "cpu_difference": [ms(cpu_difference, 50), ms(cpu_difference, 95)],
            "citewise_first_ask": [ms([f["ttft"] for f in firsts], 50),
                                   ms([f["ttft"] for f in firsts], 95)],
        },
        "ratio": [round(percentile([a / d for a, d in zip(ask_ttft, direct, strict=True)],
                                   q), 2) for q in (50, 95)],
        # Per ask; a stage an ask did not run (e.g. a second search) counts as 0 s.
        "stages_ms": {stage: [ms([p["stages"].get(stage, 0.0) for p in pairs], q)
                              for q in (50, 95)] for stage in stages},
        "model_ms": [ms([p["model"] for p in pairs], 50), ms([p["model"] for p in pairs], 95)],
        "total_ms": [ms([p["total"] for p in pairs], 50), ms([p["total"] for p in pairs], 95)],
        "prompt_tokens_p50": percentile([p["prompt_tokens"] for p in pairs], 50),
        "completion_tokens_p50": percentile([p["completion_tokens"] for p in pairs], 50),
    }


def embedding_setting(torch_threads: int | None) -> str:
    """The query embedder as measured: model, backend and its threads."""
    from django.conf import settings

    from retrieval.embedder import EmbedderConfig, choose_backend, usable_cpus

    config = EmbedderConfig(backend=settings.EMBEDDING_BACKEND)
    backend = choose_backend(config)
    threads = (torch_threads or "default" if backend == "torch"
               else usable_cpus())
    return f"{config.model} ({backend}, {threads} intra-op threads)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3,
                        help="pairs of (Citewise, direct) per question, order alternating")
    parser.add_argument("--pages", type=int, default=9, help="python-faq pages to ingest")
    parser.add_argument("--quiet-load", type=float, default=None,
                        help="wait for the 1-minute load average to fall below this first")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads(N) in the Citewise process")
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
    try:
        setup_product(server, Path(tempfile.mkdtemp(prefix="citewise-answer-overhead-")))
        if args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
        load_before = wait_for_quiet(args.quiet_load)
        firsts, pairs, refused = measure(args, server)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarize(firsts, pairs, refused)
    summary["load_before"] = round(load_before, 2)
    summary["embedding"] = embedding_setting(args.torch_threads)
    if args.json:
        print(json.dumps(summary, indent=2))
    text = report(summary, command, time.perf_counter() - started, server.ready_s)
    print(text)
    if not args.no_write:
        write_section("answer_overhead", text)


def report(summary: dict, command: str, elapsed: float, ready_s: float) -> str:
    ttft = summary["ttft_ms"]
    stages = summary["stages_ms"]
    difference_p95 = ttft["difference"][1]
    lines = [
        "### Citewise overhead around the LLM (real vLLM)", "",
        f"Command: `{command}` ({elapsed / 60:.1f} min; vLLM ready in {ready_s:.0f} s; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
        f"Machine: {machine_facts()}; 1-minute load when measuring began "
        f"{summary['load_before']}. vLLM CPU build serving the tiny random-weight test model "
        "(tests/vllm/build_tiny_model.py), --max-model-len 512, on the same cores as "
        "Citewise. Settings: ANSWER_BACKEND=vllm, VLLM_CONTEXT_LENGTH=512, "
        f"VLLM_MAX_TOKENS={MAX_TOKENS}, embedding model {summary['embedding']}, python-faq "
        "pages ingested through add_document + ingest, SQLite.", "",
        f"{summary['questions']} questions, {summary['answered_by_llm']} reached the LLM "
        f"({summary['refused']} refused before it); {summary['pairs']} pairs of (Citewise "
        "ask, direct request with the same prompt), run alternately, order swapped every "
        f"round. Prompt tokens p50 {summary['prompt_tokens_p50']}, completion tokens p50 "
        f"{summary['completion_tokens_p50']}.", "",
        "| time to first token | p50 ms | p95 ms |", "|---|---|---|",
        f"| Citewise ask() | {ttft['citewise'][0]} | {ttft['citewise'][1]} |",
        f"| openai client straight to vLLM, same prompt | {ttft['direct'][0]} "
        f"| {ttft['direct'][1]} |",
        f"| **difference per pair (Citewise - direct)** | **{ttft['difference'][0]}** "
        f"| **{difference_p95}** |",
        f"| CPU time of the asking thread until the first token, per pair (Citewise - direct) "
        f"| {ttft['cpu_difference'][0]} | {ttft['cpu_difference'][1]} |",
        f"| ratio per pair (Citewise / direct) | {summary['ratio'][0]}x "
        f"| {summary['ratio'][1]}x |",
        f"| (first ask of each question, prompt new to vLLM) | "
        f"{ttft['citewise_first_ask'][0]} | {ttft['citewise_first_ask'][1]} |", "",
        f"Target: difference p95 <= 50 ms: **{'met' if difference_p95 <= 50 else 'not met'}**.",
        "",
        f"Stages of one ask, from `{STAGE_METRIC}{{stage}}` (what /metrics serves), per ask "
        "(0 when the ask did not run that stage):", "",
        "| stage | p50 ms | p95 ms |", "|---|---|---|",
        *[f"| {stage} | {v[0]} | {v[1]} |" for stage, v in stages.items()],
        f"| model (inside stream_messages: HTTP, queueing, generation) "
        f"| {summary['model_ms'][0]} | {summary['model_ms'][1]} |",
        f"| total ask() | {summary['total_ms'][0]} | {summary['total_ms'][1]} |", "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
