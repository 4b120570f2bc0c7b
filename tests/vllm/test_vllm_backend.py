"""inference.backends.vllm against a real vLLM server (CPU build, tiny random model):
streaming, exact usage, finish reasons, errors, timeouts, no re-send after the first
token, the concurrency limit and citation parsing on the real stream."""

from __future__ import annotations

import time

import httpx
import pytest

from inference.backends.base import AnswerRequest, Delta, Done, Turn, collect
from inference.backends.vllm import VLLMBackend, VLLMConfig
from inference.citations import Citation, CitationParser
from inference.errors import BackendBusy, LLMUnavailable
from inference.sources import Source
from tests.fault_proxy import FaultProxy
from tests.vllm.server import MAX_MODEL_LEN, free_port, vllm_missing_reason

pytestmark = pytest.mark.skipif(vllm_missing_reason() is not None,
                                reason=vllm_missing_reason() or "")

MESSAGES = [{"role": "user", "content": "Where is the capital of France?"}]
LONG = {"ignore_eos": True}


def backend(server, **overrides) -> VLLMBackend:
    settings = {"base_url": server.base_url, "model": server.model, "read_timeout": 60.0,
                "connect_timeout": 5.0, "context_length": MAX_MODEL_LEN, "max_tokens": 32,
                "retry_backoff": 0.05, **overrides}
    return VLLMBackend(VLLMConfig(**settings))


def prompt_tokens(server, messages) -> int:
    response = httpx.post(server.root + "/tokenize",
                          json={"model": server.model, "messages": messages}, timeout=30)
    response.raise_for_status()
    return int(response.json()["count"])


def test_health_lists_the_model(vllm_server):
    health = backend(vllm_server).health()
    assert health.ok, health.message
    assert vllm_server.model in health.models
    wrong = backend(vllm_server, model="nope").health()
    assert not wrong.ok
    assert "does not serve the model 'nope'" in wrong.message


def test_streaming_deltas_and_exact_usage(vllm_server):
    llm = backend(vllm_server)
    events = list(llm.stream_messages(MESSAGES, max_tokens=12, extra_body=LONG))
    deltas = [e for e in events if isinstance(e, Delta)]
    done = events[-1]
    assert isinstance(done, Done)
    assert sum(isinstance(e, Done) for e in events) == 1
    assert len(deltas) >= 2  # really streamed, token by token
    assert done.usage.completion_tokens == 12
    assert done.usage.prompt_tokens == prompt_tokens(vllm_server, MESSAGES)
    assert done.finish_reason == "length"
    # Deterministic at temperature 0: the same request streams the same text.
    again = collect(llm.stream_messages(MESSAGES, max_tokens=12, extra_body=LONG))
    assert again.text == "".join(d.text for d in deltas)


def test_max_tokens_gives_finish_reason_length(vllm_server):
    result = collect(backend(vllm_server).stream_messages(MESSAGES, max_tokens=3,
                                                          extra_body=LONG))
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 3


def test_answer_request_with_sources_fits_the_context(vllm_server):
    def count(text: str) -> int:
        response = httpx.post(vllm_server.root + "/tokenize",
                              json={"model": vllm_server.model, "prompt": text,
                                    "add_special_tokens": False}, timeout=30)
        return int(response.json()["count"])

    llm = VLLMBackend(VLLMConfig(base_url=vllm_server.root, model=vllm_server.model,
                                 context_length=MAX_MODEL_LEN, max_tokens=16,
                                 read_timeout=60.0), count_tokens=count)
    long_text = "Python runs on Windows, macOS and Linux. " * 40
    sources = [Source(n, 10 + n, f"Guide {n}", f"g{n}.pdf", n, ("Install",), long_text,
                      1.0 / n) for n in (1, 2, 3)]
    request = AnswerRequest("Does Python run on Windows?", sources,
                            history=[Turn("user", "Hi"), Turn("assistant", "Hello")],
                            instructions="Be brief.", language="en")
    result = collect(llm.stream(request))
    assert result.usage.prompt_tokens <= MAX_MODEL_LEN - 16
    assert result.usage.completion_tokens <= 16


def test_unknown_model_is_a_clear_error_and_not_retried(vllm_server):
    llm = backend(vllm_server, model="no-such-model", max_retries=3)
    with pytest.raises(LLMUnavailable) as caught:
        collect(llm.stream_messages(MESSAGES, max_tokens=4))
    assert caught.value.status == 404
    assert "does not serve the model 'no-such-model'" in caught.value.message
    assert llm.requests_sent == 1  # a 404 is not retried


def test_closed_port_fails_within_the_timeout():
    port = free_port()  # nothing listens there
    llm = VLLMBackend(VLLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m",
                                 connect_timeout=2.0, read_timeout=5.0, max_retries=1,
                                 retry_backoff=0.1))
    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as caught:
        collect(llm.stream_messages(MESSAGES))
    assert time.monotonic() - started < 10
    assert "cannot be reached" in caught.value.message
    assert not llm.health().ok


def test_read_timeout_is_a_clear_error(vllm_server):
    llm = backend(vllm_server, read_timeout=0.001, max_retries=0)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as caught:
        collect(llm.stream_messages(MESSAGES, max_tokens=400, extra_body=LONG))
    assert time.monotonic() - started < 10
    # Whether a first event beat the timeout is up to the scheduler: the message says
    # "stopped in the middle of the answer (...)" then, with the same reason.
    assert "The answer service did not respond within 0.001 s." in caught.value.message


def test_no_resend_after_the_first_token(vllm_server):
    proxy = FaultProxy(upstream_port=int(vllm_server.root.rsplit(":", 1)[1]))
    proxy.set("stall", cut_after=1500)  # headers and a few SSE chunks, then silence
    try:
        llm = VLLMBackend(VLLMConfig(base_url=proxy.base_url, model=vllm_server.model,
                                     read_timeout=3.0, max_retries=3, retry_backoff=0.05))
        received: list[str] = []
        with pytest.raises(LLMUnavailable) as caught:
            for event in llm.stream_messages(MESSAGES, max_tokens=300, extra_body=LONG):
                if isinstance(event, Delta):
                    received.append(event.text)
        assert received, "some text arrived before the server went silent"
        assert caught.value.message.startswith("The answer service stopped in the middle")
        assert len(proxy.requests) == 1
        assert llm.requests_sent == 1
    finally:
        proxy.close()


def test_concurrency_limit_fails_fast_when_saturated(vllm_server):
    llm = backend(vllm_server, max_concurrency=1, queue_timeout=0.2)
    first = llm.stream_messages(MESSAGES, max_tokens=50, extra_body=LONG)
    assert isinstance(next(first), Delta)  # holds the only slot
    started = time.monotonic()
    with pytest.raises(BackendBusy) as caught:
        next(llm.stream_messages(MESSAGES, max_tokens=2))
    assert time.monotonic() - started < 2
    assert "busy" in caught.value.message
    first.close()  # releases the slot
    assert collect(llm.stream_messages(MESSAGES, max_tokens=2)).usage.completion_tokens >= 1


@pytest.mark.parametrize(("regex", "valid", "removed"), [
    (r"[A-Za-z]{2,8}( [A-Za-z]{2,8}){2,5} \[1\]\. [A-Za-z]{2,8}( [A-Za-z]{2,8}){1,4} \[1, 2\]\.",
     [(1,), (1, 2)], 0),
    (r"[A-Za-z]{2,8}( [A-Za-z]{2,8}){2,5} 【2】\. [A-Za-z]{2,8} \[7\]\.", [(2,)], 1),
])
def test_citations_parsed_from_the_real_stream(vllm_server, regex, valid, removed):
    """Structured outputs force markers into the tiny model's gibberish; the parser reads
    them from the real chunks as they arrive."""
    sources = [Source(n, n, f"T{n}", f"d{n}", None, (), f"text {n}", 1.0) for n in (1, 2)]
    parser = CitationParser(sources)
    chunks = 0
    citations: list[Citation] = []
    llm = backend(vllm_server)
    for event in llm.stream_messages(MESSAGES, max_tokens=80,
                                     extra_body={"structured_outputs": {"regex": regex}}):
        if isinstance(event, Delta):
            chunks += 1
            citations += [e for e in parser.feed(event.text) if isinstance(e, Citation)]
    citations += [e for e in parser.close() if isinstance(e, Citation)]
    assert chunks > 3
    assert [c.numbers for c in citations] == valid
    assert parser.invalid_count == removed
    for c in citations:
        assert parser.text[c.start:c.end] == "[" + ", ".join(map(str, c.numbers)) + "]"


def test_rewrite_question_uses_a_short_request(vllm_server):
    llm = backend(vllm_server, rewrite_max_tokens=8)
    history = [Turn("user", "How do I install Python?"), Turn("assistant", "Use the installer.")]
    rewritten = llm.rewrite_question(history, "And on Windows?")
    assert isinstance(rewritten, str)
    assert rewritten
    assert llm.requests_sent == 1
    assert llm.rewrite_question([], "Standalone?") == "Standalone?"
    _, usage = llm.rewrite(history, "And on Windows?")  # vLLM's own counts
    assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 8
