"""The interface every answer backend implements: plain data in, a stream of text deltas
out, ending with one `Done` event that carries the token usage."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from inference.sources import Source


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Example:
    """A few-shot example an admin wrote for a knowledge base (tone, format, persona)."""

    question: str
    answer: str
    sources: tuple[str, ...] = ()  # passage texts the example answer cites as [1], [2]...


@dataclass(frozen=True)
class AnswerRequest:
    question: str
    sources: list[Source]
    history: list[Turn] = field(default_factory=list)
    instructions: str = ""  # per-knowledge-base instructions
    examples: list[Example] = field(default_factory=list)
    language: str = "en"  # "en" or "ko": the question's language
    knowledge_base: str = ""  # name shown in "not found" messages
    max_tokens: int | None = None  # answer length; None: the backend's default
    temperature: float | None = None
    extra_body: Mapping[str, Any] | None = None  # passed to vLLM as is (structured outputs)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class Delta:
    text: str
    # Text quoted word for word from a source (the extractive backend): brackets in it are
    # the document's own ("tuple([1, 2, 3])"), never citation markers.
    verbatim: bool = False


@dataclass(frozen=True)
class Done:
    usage: Usage
    finish_reason: str = "stop"  # "stop", "length", "not_found"...


Event = Delta | Done


@runtime_checkable
class AnswerBackend(Protocol):
    name: str

    def stream(self, request: AnswerRequest) -> Iterator[Event]:
        """Text deltas, then exactly one `Done`. Raises LLMUnavailable on failure."""
        ...


@dataclass(frozen=True)
class Completed:
    text: str
    usage: Usage
    finish_reason: str


def collect(events: Iterable[Event]) -> Completed:
    """Drain a stream into the whole text (for tests, the CLI and non-streaming APIs)."""
    parts: list[str] = []
    done: Done | None = None
    for event in events:
        if isinstance(event, Delta):
            parts.append(event.text)
        else:
            done = event
    if done is None:
        raise RuntimeError("the answer stream ended without a Done event")
    return Completed("".join(parts), done.usage, done.finish_reason)
