"""vLLM (or any OpenAI-compatible server) over HTTP, with the official `openai` client.

- Streaming chat completions with `stream_options.include_usage`: text deltas, then one
  `Done` with the server's exact token usage.
- Retries only before the first token: once text has reached the caller, a failure
  ends the answer with LLMUnavailable and the request is never sent again.
- A per-backend concurrency limit: a caller waits at most `queue_timeout` for a slot,
  then fails fast with BackendBusy.
- Every failure becomes LLMUnavailable with a message a person understands.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import httpx

from inference.backends.base import AnswerRequest, Delta, Done, Event, Turn, Usage
from inference.errors import BackendBusy, ErrorCode, LLMUnavailable
from inference.prompt import PromptBudget, TokenCounter, build_prompt, rewrite_messages
from textproc.tokens import approx_tokens

Timer = Callable[[str], AbstractContextManager[object]]  # stage name -> timing block


@dataclass(frozen=True)
class VLLMConfig:
    base_url: str = "http://127.0.0.1:8000/v1"  # with or without the trailing /v1
    model: str = ""
    api_key: str = ""
    connect_timeout: float = 5.0  # seconds to open the connection
    read_timeout: float = 30.0  # seconds of silence tolerated (first token, between tokens)
    max_retries: int = 2  # attempts after the first, only before any text is received
    retry_backoff: float = 0.5  # seconds, doubled per retry
    max_concurrency: int = 8  # answers in flight from this process
    queue_timeout: float = 10.0  # seconds to wait for a free slot before failing
    max_tokens: int = 512  # answer length (reserved in the prompt budget)
    temperature: float = 0.0
    context_length: int = 4096  # the served model's --max-model-len
    history_tokens: int = 600
    rewrite_max_tokens: int = 64
    extra_body: Mapping[str, Any] = field(default_factory=dict)  # sent with every request

    @property
    def root(self) -> str:
        url = self.base_url.rstrip("/")
        return url[:-3] if url.endswith("/v1") else url

    @property
    def api_base(self) -> str:
        return self.root + "/v1"


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str
    models: tuple[str, ...] = ()
    latency_s: float | None = None


class VLLMBackend:
    name = "vllm"

    def __init__(self, config: VLLMConfig, *, count_tokens: TokenCounter | None = None,
                 http_client: Any = None, timer: Timer | None = None) -> None:
        """`http_client`: an httpx-compatible client for the openai client and health checks
        (tests pass one with a mock transport). `timer` wraps prompt building (stage
        "prompt"), e.g. a Prometheus histogram's labels(stage=...).time()."""
        from openai import OpenAI, Timeout  # lazy: only processes that answer need it

        if not config.model:
            raise ValueError("VLLMConfig.model is required (the served model name)")
        self.config = config
        self.count_tokens = count_tokens or approx_tokens
        self.timer: Timer = timer or (lambda stage: nullcontext())
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._http = http_client
        self.client = OpenAI(
            base_url=config.api_base, api_key=config.api_key or "EMPTY",
            timeout=Timeout(config.read_timeout, connect=config.connect_timeout),
            max_retries=0,  # retries are ours: only before the first token
            http_client=http_client,
        )
        self.requests_sent = 0  # HTTP requests attempted (for tests and metrics)

    # -- answering --------------------------------------------------------------------
    def budget(self, max_tokens: int | None = None) -> PromptBudget:
        return PromptBudget(context_length=self.config.context_length,
                            answer_tokens=max_tokens or self.config.max_tokens,
                            history_tokens=self.config.history_tokens)

    def stream(self, request: AnswerRequest) -> Iterator[Event]:
        max_tokens = request.max_tokens or self.config.max_tokens
        with self.timer("prompt"):
            prompt = build_prompt(request, self.budget(max_tokens), self.count_tokens)
        yield from self.stream_messages(
            prompt.messages, max_tokens=max_tokens,
            temperature=self.config.temperature if request.temperature is None
            else request.temperature,
            extra_body=request.extra_body)

    def stream_messages(self, messages: Sequence[Mapping[str, str]], *,
                        max_tokens: int | None = None, temperature: float | None = None,
                        extra_body: Mapping[str, Any] | None = None) -> Iterator[Event]:
        """Stream a chat completion of ready-made messages (no prompt building). Closing
        the iterator closes the HTTP stream, which makes vLLM abort the generation."""
        body = {**self.config.extra_body, **(extra_body or {})}
        with self._slot():
            stream, first = self._with_retries(lambda timeout: _opened(
                self.client.chat.completions.create(
                    timeout=timeout, model=self.config.model, messages=list(messages),
                    stream=True, stream_options={"include_usage": True},
                    max_tokens=max_tokens or self.config.max_tokens,
                    temperature=self.config.temperature if temperature is None
                    else temperature,
                    extra_body=body or None)))
            yield from self._read_stream(stream, first, messages)

    def _read_stream(self, stream: Any, first: list[Any],
                     messages: Sequence[Mapping[str, str]]) -> Iterator[Event]:
        """Deltas as they arrive (`first`: the chunks read before the first token), then
        Done with the server's token counts. Nothing is retried once a token has reached
        the caller: a failure now is the answer's."""
        usage: Any = None
        finish = None
        parts: list[str] = []
        try:
            for chunk in itertools.chain(first, stream):
                usage = chunk.usage if chunk.usage is not None else usage
                for choice in chunk.choices:
                    text = choice.delta.content if choice.delta else None
                    if text:
                        parts.append(text)
                        yield Delta(text)
                    finish = choice.finish_reason or finish
        except Exception as exc:
            error = map_error(exc, self.config)
            if not parts:
                raise error from exc
            raise LLMUnavailable(
                f"The answer service stopped in the middle of the answer ({error.message})",
                code=ErrorCode.INTERRUPTED, status=error.status) from exc
        finally:
            stream.close()
        if usage is not None:
            counted = Usage(int(usage.prompt_tokens), int(usage.completion_tokens))
        else:  # a server without include_usage support: estimate
            counted = Usage(sum(self.count_tokens(m["content"]) for m in messages),
                            self.count_tokens("".join(parts)))
        yield Done(counted, finish or "stop")

    def _with_retries(self, call: Callable[[httpx.Timeout], Any]) -> Any:
        """`call(timeout)` until it succeeds, retrying what may succeed later (connection
        errors, timeouts, 429, 5xx) with exponential backoff while time is left. Every
        attempt shares one read_timeout: the person asking gets the error within it."""
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                self.requests_sent += 1
                return call(self._attempt_timeout(started))
            except Exception as exc:
                error = map_error(exc, self.config)
                if not (error.retryable and self._may_retry(attempt, started)):
                    raise error from exc
            time.sleep(self.config.retry_backoff * 2 ** attempt)
            attempt += 1

    def _may_retry(self, attempt: int, started: float) -> bool:
        cfg = self.config
        elapsed = time.monotonic() - started
        return attempt < cfg.max_retries and (
            elapsed + cfg.retry_backoff * 2 ** attempt < cfg.read_timeout)

    def _attempt_timeout(self, started: float) -> httpx.Timeout:
        cfg = self.config
        # A retry (only allowed while time is left) gets the rest, at least a sliver.
        remaining = max(cfg.read_timeout * 0.05, cfg.read_timeout - (time.monotonic() - started))
        return httpx.Timeout(remaining, connect=min(cfg.connect_timeout, remaining))

    def complete(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int,
                 temperature: float | None = None,
                 extra_body: Mapping[str, Any] | None = None) -> tuple[str, Usage]:
        """A short non-streamed request (retried: nothing reached a caller yet)."""
        body = {**self.config.extra_body, **(extra_body or {})}
        with self._slot():
            response = self._with_retries(lambda timeout: self.client.chat.completions.create(
                timeout=timeout, model=self.config.model, messages=list(messages),
                stream=False, max_tokens=max_tokens,
                temperature=self.config.temperature if temperature is None else temperature,
                extra_body=body or None))
        text = response.choices[0].message.content or "" if response.choices else ""
        usage = response.usage
        return text, Usage(usage.prompt_tokens if usage else 0,
                           usage.completion_tokens if usage else 0)

    def rewrite_question(self, history: Sequence[Turn], question: str) -> str:
        """A follow-up ("and on Windows?") rewritten into a standalone question."""
        return self.rewrite(history, question)[0]

    def rewrite(self, history: Sequence[Turn], question: str) -> tuple[str, Usage]:
        """rewrite_question with the tokens the request used (part of the answer's cost)."""
        if not any(t.role == "user" for t in history):
            return question, Usage(0, 0)
        text, usage = self.complete(
            rewrite_messages(history, question, count=self.count_tokens),
            max_tokens=self.config.rewrite_max_tokens)
        lines = [line.strip().strip('"').strip() for line in text.strip().splitlines()]
        rewritten = next((line for line in lines if line), "")
        return rewritten or question, usage

    # -- health -----------------------------------------------------------------------
    def health(self) -> Health:
        """GET {root}/health, then {root}/v1/models: up, and serving the configured model?"""
        return check_health(self.config, http_client=self._http)

    # -- internals --------------------------------------------------------------------
    def _slot(self) -> _Slot:
        return _Slot(self._slots, self.config)


def check_health(config: VLLMConfig, *, http_client: httpx.Client | None = None) -> Health:
    """GET {root}/health, then {root}/v1/models: up, and serving the configured model?
    Plain HTTP: a readiness probe needs no answering client."""
    cfg = config
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    timeout = httpx.Timeout(cfg.read_timeout, connect=cfg.connect_timeout)
    where = f"The answer service at {cfg.root}"
    started = time.monotonic()
    try:
        client = http_client or httpx.Client(timeout=timeout)
        try:
            alive = client.get(cfg.root + "/health", timeout=timeout)
            if alive.status_code != 200:
                return Health(ok=False, message=f"{where} is not healthy "
                              f"(HTTP {alive.status_code} from /health).")
            listed = client.get(cfg.api_base + "/models", headers=headers, timeout=timeout)
        finally:
            if client is not http_client:
                client.close()
    except Exception as exc:
        return Health(ok=False, message=map_error(exc, cfg).message)
    latency = time.monotonic() - started
    if listed.status_code != 200:
        return Health(ok=False, message=f"{where} did not list its models "
                      f"(HTTP {listed.status_code}).", latency_s=latency)
    models = tuple(m.get("id", "") for m in listed.json().get("data", []))
    if cfg.model not in models:
        served = ", ".join(models) or "none"
        return Health(ok=False, message=f"{where} does not serve the model "
                      f"'{cfg.model}' (it serves: {served}).", models=models,
                      latency_s=latency)
    return Health(ok=True, message=f"{where} is up and serves '{cfg.model}'.",
                  models=models, latency_s=latency)


class _Slot:
    def __init__(self, semaphore: threading.BoundedSemaphore, config: VLLMConfig) -> None:
        self.semaphore = semaphore
        self.config = config

    def __enter__(self) -> None:
        if not self.semaphore.acquire(timeout=self.config.queue_timeout):
            raise BackendBusy(
                f"The answer service is busy: all {self.config.max_concurrency} answer slots "
                f"stayed in use for {self.config.queue_timeout:g} s. Try again in a moment.")

    def __exit__(self, *exc: object) -> None:
        self.semaphore.release()


def _opened(stream: Any) -> tuple[Any, list[Any]]:
    """The stream and its chunks up to the first one carrying text (or its end): a
    failure before any text may still be retried; the stream is closed if it fails."""
    first: list[Any] = []
    try:
        for chunk in stream:
            first.append(chunk)
            if any(choice.delta and choice.delta.content for choice in chunk.choices):
                break
    except BaseException:
        stream.close()
        raise
    return stream, first


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message = inner.get("message") if isinstance(inner, dict) else None
        if message:
            return str(message)
    return str(getattr(exc, "message", "") or exc)


def _transport_errors(name: str) -> tuple[type, ...]:
    """The class `name` from httpx and from httpx2 (which newer openai clients use)."""
    import importlib

    found = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if isinstance(getattr(module, name, None), type):
            found.append(getattr(module, name))
    return tuple(found)


def _caused_by(exc: BaseException, kind: type | tuple[type, ...]) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, kind):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


# One ordered table of error kinds, the first match winning: split, the order would hide.
def map_error(exc: BaseException, config: VLLMConfig) -> LLMUnavailable:  # noqa: C901
    """Any client or transport error -> LLMUnavailable with a readable message."""
    import openai

    if isinstance(exc, LLMUnavailable):
        return exc
    where = config.root
    if _caused_by(exc, _transport_errors("ConnectTimeout")):
        return LLMUnavailable(f"The answer service at {where} could not be reached within "
                              f"{config.connect_timeout:g} s.", code=ErrorCode.UNREACHABLE,
                              retryable=True)
    if isinstance(exc, openai.APITimeoutError) or _caused_by(
            exc, _transport_errors("TimeoutException")):
        return LLMUnavailable(f"The answer service did not respond within "
                              f"{config.read_timeout:g} s.", code=ErrorCode.TIMEOUT,
                              retryable=True)
    refused = (*_transport_errors("ConnectError"), ConnectionRefusedError)
    if isinstance(exc, openai.APIConnectionError) or _caused_by(exc, refused):
        if _caused_by(exc, refused):
            return LLMUnavailable(f"The answer service at {where} cannot be reached "
                                  "(connection refused). Is vLLM running?",
                                  code=ErrorCode.UNREACHABLE, retryable=True)
        return LLMUnavailable(f"The connection to the answer service at {where} failed.",
                              code=ErrorCode.UNREACHABLE, retryable=True)
    if isinstance(exc, _transport_errors("TransportError")):
        return LLMUnavailable(f"The connection to the answer service at {where} was "
                              f"interrupted ({type(exc).__name__}).", code=ErrorCode.INTERRUPTED,
                              retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _server_message(exc)
        if status in (401, 403):
            return LLMUnavailable(f"The answer service refused the API key (HTTP {status}). "
                                  "Check the configured key.", code=ErrorCode.AUTH, status=status)
        if status == 404:
            return LLMUnavailable(f"The answer service does not serve the model "
                                  f"'{config.model}' (HTTP 404: {detail}).",
                                  code=ErrorCode.MODEL_MISSING, status=status)
        if status == 429:
            return LLMUnavailable("The answer service is overloaded (HTTP 429). Try again "
                                  "in a moment.", code=ErrorCode.OVERLOADED, retryable=True,
                                  status=status)
        if status >= 500:
            return LLMUnavailable(f"The answer service failed (HTTP {status}): {detail}",
                                  code=ErrorCode.SERVER_ERROR, retryable=True, status=status)
        return LLMUnavailable(f"The answer service rejected the request (HTTP {status}): "
                              f"{detail}", code=ErrorCode.REJECTED, status=status)
    if isinstance(exc, openai.APIError):
        return LLMUnavailable(f"The answer service returned an error: {_server_message(exc)}")
    return LLMUnavailable(f"The answer service call failed: {type(exc).__name__}: {exc}")
