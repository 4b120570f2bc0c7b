"""VLLMBackend with the official openai client over a mocked HTTP transport: retries only
before the first token, error mapping, the concurrency limit, health. (The real server
is exercised in tests/vllm.)"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from inference.backends.base import AnswerRequest, Delta, Done, Usage, collect
from inference.backends.vllm import VLLMBackend, VLLMConfig
from inference.errors import BackendBusy, ErrorCode, LLMUnavailable

from .helpers import source

MESSAGES = [{"role": "user", "content": "hi"}]


def sse(*texts: str, usage: tuple[int, int] = (7, 2), finish: str = "stop") -> list[bytes]:
    def chunk(delta: dict, finish_reason=None, usage_obj=None, choices=True) -> bytes:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
                if choices else [], "usage": usage_obj}
        return f"data: {json.dumps(body)}\n\n".encode()

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": t}) for t in texts]
    out.append(chunk({}, finish))
    out.append(chunk({}, usage_obj={"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                    "total_tokens": sum(usage)}, choices=False))
    out.append(b"data: [DONE]\n\n")
    return out


class Script:
    """Answers each request with the next scripted behaviour."""

    def __init__(self, *steps) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step(request)


def streaming(chunks, *, fail_after: int | None = None):
    def respond(request):
        def body():
            for i, c in enumerate(chunks):
                if fail_after is not None and i == fail_after:
                    raise httpx.ReadTimeout("silence", request=request)
                yield c
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=body())
    return respond


def status(code: int, message: str):
    return lambda request: httpx.Response(code, json={"error": {"message": message}})


def backend(script, **overrides) -> VLLMBackend:
    config = VLLMConfig(base_url="http://llm:8000/v1", model="m", retry_backoff=0.01,
                        **overrides)
    return VLLMBackend(config, http_client=httpx.Client(transport=httpx.MockTransport(script)))


def test_stream_yields_deltas_then_usage():
    script = Script(streaming(sse("Hello", " world", usage=(11, 2))))
    llm = backend(script)
    events = list(llm.stream_messages(MESSAGES, max_tokens=5))
    assert events == [Delta("Hello"), Delta(" world"), Done(events[-1].usage, "stop")]
    assert events[-1].usage.prompt_tokens == 11
    assert events[-1].usage.completion_tokens == 2
    sent = json.loads(script.requests[0].content)
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 5
    assert sent["model"] == "m"


def test_answer_request_builds_the_prompt_and_passes_extra_body():
    script = Script(streaming(sse("ok [1].")))
    llm = backend(script)
    request = AnswerRequest("Q?", [source(1, "Python runs on Windows.")], max_tokens=9,
                            extra_body={"structured_outputs": {"regex": "a"}})
    assert collect(llm.stream(request)).text == "ok [1]."
    sent = json.loads(script.requests[0].content)
    assert sent["messages"][0]["role"] == "system"
    assert "[1] Doc 1" in sent["messages"][-1]["content"]
    assert sent["structured_outputs"] == {"regex": "a"}
    assert sent["max_tokens"] == 9


def test_temperature_and_max_tokens_of_an_answer_request_are_sent():
    script = Script(streaming(sse("ok [1].")), streaming(sse("ok [1].")))
    llm = backend(script, temperature=0.0, max_tokens=512)
    asked = AnswerRequest("Q?", [source(1, "Python runs on Windows.")], temperature=0.7,
                          max_tokens=9)
    collect(llm.stream(asked))
    collect(llm.stream(AnswerRequest("Q?", [source(1, "Python runs on Windows.")])))
    sent = [json.loads(request.content) for request in script.requests]
    assert [(body["temperature"], body["max_tokens"]) for body in sent] == [(0.7, 9),
                                                                            (0.0, 512)]


def test_retries_before_the_first_token():
    script = Script(status(503, "warming up"),
                    streaming(sse("x"), fail_after=1),  # fails before any text
                    streaming(sse("fine")))
    llm = backend(script, max_retries=2)
    assert collect(llm.stream_messages(MESSAGES)).text == "fine"
    assert llm.requests_sent == 3


def test_retries_stop_when_the_timeout_is_spent():
    """VLLM_TIMEOUT bounds the wait for the first token, retries included: a server that
    answers each attempt with a slow 503 is given up on within it, not after every retry
    has waited its own."""
    def slow_503(request):
        time.sleep(0.2)
        return httpx.Response(503, json={"error": {"message": "overloaded"}})

    script = Script(*[slow_503] * 8)
    llm = backend(script, max_retries=7, read_timeout=0.5)
    began = time.monotonic()
    with pytest.raises(LLMUnavailable):
        collect(llm.stream_messages(MESSAGES))
    assert time.monotonic() - began < 0.8
    assert 2 <= llm.requests_sent <= 3
    with pytest.raises(LLMUnavailable):
        llm.complete(MESSAGES, max_tokens=5)
    assert llm.requests_sent <= 6


def test_never_resends_after_the_first_token():
    script = Script(streaming(sse("partial", " more", " end"), fail_after=3),
                    streaming(sse("second")))
    llm = backend(script, max_retries=3)
    received = []
    with pytest.raises(LLMUnavailable) as caught:
        for event in llm.stream_messages(MESSAGES):
            received.append(event)
    assert received == [Delta("partial"), Delta(" more")]
    assert caught.value.message.startswith("The answer service stopped in the middle")
    assert caught.value.code == ErrorCode.INTERRUPTED
    assert len(script.requests) == 1


@pytest.mark.parametrize(("step", "message", "code", "retryable"), [
    (status(404, "The model `m` does not exist."),
     "The answer service does not serve the model 'm' (HTTP 404: The model `m` does not "
     "exist.).", ErrorCode.MODEL_MISSING, False),
    (status(400, "max_tokens is too large"),
     "The answer service rejected the request (HTTP 400): max_tokens is too large",
     ErrorCode.REJECTED, False),
    (status(401, "bad key"), "The answer service refused the API key (HTTP 401). Check the "
     "configured key.", ErrorCode.AUTH, False),
    (status(500, "boom"), "The answer service failed (HTTP 500): boom", ErrorCode.SERVER_ERROR,
     True),
    (status(429, "busy"), "The answer service is overloaded (HTTP 429). Try again in a "
     "moment.", ErrorCode.OVERLOADED, True),
    (httpx.ReadTimeout("slow"), "The answer service did not respond within 30 s.",
     ErrorCode.TIMEOUT, True),
    (httpx.ConnectTimeout("slow"), "The answer service at http://llm:8000 could not be "
     "reached within 5 s.", ErrorCode.UNREACHABLE, True),
    (httpx.ConnectError("refused"), "The answer service at http://llm:8000 cannot be reached "
     "(connection refused). Is vLLM running?", ErrorCode.UNREACHABLE, True),
])
def test_errors_are_readable(step, message, code, retryable):
    """Each failure has a sentence a person can act on and a machine code a page can
    translate; the same for streamed and non-streamed requests."""
    script = Script(*[step] * 6)
    llm = backend(script, max_retries=2)
    with pytest.raises(LLMUnavailable) as caught:
        collect(llm.stream_messages(MESSAGES))
    assert (caught.value.message, caught.value.code) == (message, code)
    assert caught.value.retryable is retryable
    with pytest.raises(LLMUnavailable) as again:
        llm.complete(MESSAGES, max_tokens=5)
    assert (again.value.message, again.value.code) == (message, code)
    assert llm.requests_sent == (6 if retryable else 2)


def test_concurrency_limit_fails_fast():
    script = Script(streaming(sse("a", "b")), streaming(sse("c")))
    llm = backend(script, max_concurrency=1, queue_timeout=0.1)
    first = llm.stream_messages(MESSAGES)
    assert next(first) == Delta("a")
    started = time.monotonic()
    with pytest.raises(BackendBusy, match="busy: all 1 answer slots"):
        next(llm.stream_messages(MESSAGES))
    assert time.monotonic() - started < 1
    first.close()
    assert collect(llm.stream_messages(MESSAGES)).text == "c"


def test_rewrite_question_is_a_short_non_streamed_request():
    def reply(request):
        body = json.loads(request.content)
        assert body["stream"] is False
        assert body["max_tokens"] == 64
        return httpx.Response(200, json={
            "id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": '"How do I install Python on Windows?"\n'}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}})

    from inference.backends.base import Turn
    llm = backend(Script(reply))
    history = [Turn("user", "How do I install Python?"), Turn("assistant", "Download it.")]
    assert llm.rewrite_question(history, "And on Windows?") == \
        "How do I install Python on Windows?"
    assert llm.rewrite_question([], "Standalone?") == "Standalone?"
    llm = backend(Script(reply))
    assert llm.rewrite(history, "And on Windows?")[1] == Usage(30, 9)
    assert llm.rewrite([], "Standalone?") == ("Standalone?", Usage(0, 0))


def test_health():
    def ok(request):
        if request.url.path == "/health":
            return httpx.Response(200)
        assert request.url.path == "/v1/models"
        return httpx.Response(200, json={"object": "list", "data": [{"id": "m"}]})

    assert backend(Script(ok, ok)).health().ok
    down = backend(Script(lambda r: httpx.Response(503))).health()
    assert not down.ok and "not healthy (HTTP 503" in down.message


def test_closed_port_is_unavailable_quickly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = VLLMBackend(VLLMConfig(base_url=f"http://127.0.0.1:{port}", model="m",
                                 max_retries=1, retry_backoff=0.01, connect_timeout=2))
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match="cannot be reached"):
        collect(llm.stream_messages(MESSAGES))
    assert time.monotonic() - started < 10
    health = llm.health()
    assert not health.ok and "cannot be reached" in health.message


def test_config_root_and_model_required():
    assert VLLMConfig(base_url="http://h:1/v1/").root == "http://h:1"
    assert VLLMConfig(base_url="http://h:1").api_base == "http://h:1/v1"
    with pytest.raises(ValueError, match="model"):
        VLLMBackend(VLLMConfig(model=""))
