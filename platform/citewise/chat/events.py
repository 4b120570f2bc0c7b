"""What the ask service yields, one event type per thing a page shows.

An answer streams as: `AskNotice`s (e.g. "the LLM is down, quoting the documents"), then
`AskText` pieces, then one `AskCitation` per cited source (verified), then `AskResult`
(type "done": the stored message). Instead of text it may end with `AskNotFound` (the
documents do not answer; it replaces any text that arrived) or `AskFailed` (the answer
service failed, maybe after some text: the exchange is stored as a failed answer with the
code, never as a complete one, and no `AskResult` follows). Every door (chat page, REST
SSE, OpenAI stream, MCP, `manage.py ask`) renders these same events; `as_json()` gives
each one's payload.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar

from django.db.models import TextChoices

from inference.backends.base import Usage


class EventType(TextChoices):
    TEXT = "text"
    CITATION = "citation"
    NOTICE = "notice"
    NOT_FOUND = "not_found"
    ERROR = "error"
    DONE = "done"


class NoticeCode(TextChoices):
    LLM_FALLBACK = "llm_fallback", "The LLM is unavailable; the answer quotes the documents."


@dataclass(frozen=True)
class AskText:
    """A piece of the answer (Markdown), citation markers ("[1]") already resolved to the
    numbers of the sources below."""

    type: ClassVar[str] = EventType.TEXT
    text: str

    def as_json(self) -> dict:
        return {"text": self.text}


@dataclass(frozen=True)
class AskNotice:
    type: ClassVar[str] = EventType.NOTICE
    code: str
    text: str

    def as_json(self) -> dict:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True)
class AskFailed:
    """The answer service could not answer; `code` is an inference.errors.ErrorCode."""

    type: ClassVar[str] = EventType.ERROR
    code: str
    message: str

    def as_json(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class CitedSource:
    """A numbered source as the answer cites it: the page and heading path of the quoted
    sentence (not of the passage's start), the supporting snippet, whether the verifier
    found the cited sentence supported, and the source viewer's URL."""

    n: int
    chunk_id: int | None
    knowledge_base: str
    document: str
    title: str
    page: int | None
    heading_path: list[str]
    snippet: str
    supported: bool
    url: str
    line: int | None = None  # the quoted sentence's line or spreadsheet row (Citation.line)
    document_type: str = ""  # Document.detected_type: what page and line count

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AskCitation:
    type: ClassVar[str] = EventType.CITATION
    citation: CitedSource

    def as_json(self) -> dict:
        return self.citation.as_json()


@dataclass(frozen=True)
class AskNotFound:
    """The documents do not answer the question. `message`: the sentence saying so (in
    the question's language); `text`: the stored answer (the message and the closest
    documents' titles); closest_documents: [{document, title, url}], best first."""

    type: ClassVar[str] = EventType.NOT_FOUND
    message: str
    text: str
    knowledge_bases: list[str]
    closest_documents: list[dict]

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AskResult:
    """The stored answer (type "done").

    not_found: the answer says the documents do not answer the question (refused before
    generating, or the backend found nothing to say); it lists the closest documents,
    cites nothing and is recorded in the gap report.
    grounded: the answer states something and every statement cites a passage that
    supports it (inference.verify). Never true together with not_found: a refusal states
    nothing.
    stopped: the person stopped the answer; `answer` is what had arrived.
    cut_short: the LLM reached the answer's token limit (max_tokens) before it finished.
    """

    type: ClassVar[str] = EventType.DONE
    conversation_id: int
    message_id: int
    question: str
    search_query: str
    answer: str
    not_found: bool
    grounded: bool
    backend: str
    citations: list[CitedSource]
    usage: Usage
    invalid_citations: int = 0
    notice: str = ""
    closest_documents: list[dict] = field(default_factory=list)
    stopped: bool = False
    cut_short: bool = False

    def as_json(self) -> dict:
        return {
            "question": self.question, "answer": self.answer, "not_found": self.not_found,
            "grounded": self.grounded, "stopped": self.stopped, "backend": self.backend,
            "notice": self.notice, "citations": [c.as_json() for c in self.citations],
            "usage": {"prompt_tokens": self.usage.prompt_tokens,
                      "completion_tokens": self.usage.completion_tokens},
            "invalid_citations": self.invalid_citations,
            "closest_documents": self.closest_documents,
            "conversation_id": self.conversation_id, "message_id": self.message_id,
        }


AskEvent = AskText | AskNotice | AskCitation | AskNotFound | AskFailed | AskResult
