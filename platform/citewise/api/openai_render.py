"""The ask service's events as OpenAI chat completions: one `chat.completion` object, or
`chat.completion.chunk` Server-Sent Events ending with `data: [DONE]`.

The message's content is what a person reads in any OpenAI chat tool: the answer in
Markdown with each citation a footnote reference ([^1]) and the footnotes (title, page,
source URL) after it, or the service's not-found text. Programs read the same citations
from the message's extra fields (`citations`, `grounded`, `not_found`,
`closest_documents`, `notice`); in a stream they come on the last chunk's delta.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext as _

from citewise.api.openai_errors import LLMDown, error_object, server_error
from citewise.api.views import answer_json
from citewise.chat.events import AskEvent, AskFailed, AskNotFound, AskResult, AskText
from citewise.chat.streaming import HEARTBEAT, EventPump

logger = logging.getLogger(__name__)

# The ask service sends each citation marker as a text piece of its own, in one form:
# "[1]", "[1, 2]" (inference.citations.canonical_marker). Only such pieces are markers;
# brackets inside other text (a quoted "[1, 2, 3]") stay as they are.
_MARKER = re.compile(r"\[(\d+(?:, \d+)*)\]")
_FOOTNOTE_REF = re.compile(r"\[\^(\d+)\]")
_FOOTNOTE_LIST = re.compile(r"\n*(?:^\[\^\d+\]: .*$\n?)+\Z", re.MULTILINE)
DONE = b"data: [DONE]\n\n"
EXTRA_FIELDS = ("citations", "grounded", "not_found", "closest_documents", "notice")


def footnote_refs(piece: str) -> str:
    """"[1, 2]" -> "[^1][^2]"; any other text unchanged."""
    marker = _MARKER.fullmatch(piece)
    if not marker:
        return piece
    return "".join(f"[^{n}]" for n in marker.group(1).split(", "))


def footnotes(citations: list[dict]) -> str:
    """The footnote list after an answer: "[^1]: [Title](source URL), page 3" (or "slide
    3", "Prices, row 12", "line 40": the citation's location)."""
    lines = []
    for citation in citations:
        title = re.sub(r"([\[\]])", r"\\\1", citation["title"] or citation["document"])
        line = f"[^{citation['n']}]: [{title}]({citation['source_url']})"
        if citation["location"]:
            line += ", " + citation["location"]
        lines.append(line)
    return "\n\n" + "\n".join(lines) if lines else ""


def answer_of(content: str) -> str:
    """An assistant message as a client sends it back in the history, as the ask service
    wrote it: footnote list dropped, [^n] back to [n]."""
    return _FOOTNOTE_REF.sub(r"[\1]", _FOOTNOTE_LIST.sub("", content)).rstrip()


class MessageContent:
    """The content, built from the events as they arrive. `language`: the question's
    (the words of the footnotes follow it, as the answer does)."""

    def __init__(self, request, language: str) -> None:
        self.request, self.language = request, language
        self.text = ""
        self.fields: dict = {}  # Citewise's fields of the message, once the answer is done

    def add(self, event: AskEvent) -> str:
        """The text this event adds to the content ("" for none)."""
        piece = ""
        if isinstance(event, AskText):
            piece = footnote_refs(event.text)
        elif isinstance(event, AskNotFound):
            # It replaces the text so far (an LLM's refusal, streamed before it was
            # recognised as one): only what the refusal adds can still be sent.
            piece = event.text[len(self.text):] if event.text.startswith(self.text) else ""
        elif isinstance(event, AskResult):
            # The citations' locations in the footnotes' language.
            with translation.override(self.language):
                data = answer_json(self.request, event)
            self.fields = {field: data[field] for field in EXTRA_FIELDS}
            if not event.not_found:
                piece = footnotes(self.fields["citations"])
        self.text += piece
        return piece


@dataclass(frozen=True)
class Envelope:
    """What every object of one completion shares."""

    id: str
    created: int
    model: str

    @classmethod
    def new(cls, model: str) -> Envelope:
        return cls(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model)

    def _object(self, kind: str, **fields) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                **fields}

    def completion(self, content: MessageContent, result: AskResult) -> dict:
        message = {"role": "assistant", "content": content.text, "refusal": None,
                   **content.fields}
        return self._object("chat.completion", choices=[
            {"index": 0, "message": message, "logprobs": None,
             "finish_reason": finish_reason(result)}], usage=usage(result))

    def chunk(self, delta: dict, finish: str | None = None) -> dict:
        return self._object("chat.completion.chunk", choices=[
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

    def usage_chunk(self, result: AskResult) -> dict:
        return self._object("chat.completion.chunk", choices=[], usage=usage(result))


def finish_reason(result: AskResult) -> str:
    return "length" if result.cut_short else "stop"


def usage(result: AskResult) -> dict:
    return {"prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.total_tokens}


def completion(request, events: Iterator[AskEvent], envelope: Envelope,
               language: str) -> dict:
    """The whole answer as one chat.completion. Raises LLMDown when the service failed."""
    content = MessageContent(request, language)
    result = failed = None
    for event in events:  # to the end: a generator left open would store a stopped answer
        failed = event if isinstance(event, AskFailed) else failed
        result = event if isinstance(event, AskResult) else result
        content.add(event)
    if failed is not None or result is None:
        raise LLMDown(failed.message if failed else _("The answer ended without a result."),
                      code=failed.code if failed else None)
    return envelope.completion(content, result)


def _data(payload: dict) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def chunks(request, events: Iterator[AskEvent], envelope: Envelope, *,
                 language: str, errors_language: str,
                 include_usage: bool) -> AsyncIterator[bytes]:
    """The answer as chat.completion.chunk events. The pump runs the ask service on its
    own thread; a client that leaves stops the answer. A failure once the stream has
    started can only be an event: {"error": {...}} (OpenAI clients raise APIError), in
    `errors_language` (the request's: the stream outlives its translation)."""
    content = MessageContent(request, language)
    pump = EventPump(events)
    yield _data(envelope.chunk({"role": "assistant", "content": ""}))
    try:
        async for event in pump.events():
            if event is None:
                yield HEARTBEAT
            elif isinstance(event, AskFailed):
                yield _data(error_object(event.message, type_="server_error", code=event.code))
                return
            elif isinstance(event, AskResult):
                delta = {"content": content.add(event), **content.fields}
                yield _data(envelope.chunk(delta, finish_reason(event)))
                if include_usage:
                    yield _data(envelope.usage_chunk(event))
            elif piece := content.add(event):
                yield _data(envelope.chunk({"content": piece}))
    except Exception:
        logger.exception("OpenAI-compatible stream failed")
        with translation.override(errors_language):
            yield _data(server_error())
        return
    finally:
        pump.stop()
    yield DONE
