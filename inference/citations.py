"""Citation markers parsed from an answer stream as it arrives.

Recognises [n], [n, m], [n-m] (ranges), full-width ［n］ and 【n】, full-width digits and
the separators , ， 、 - – — ~, also when a marker is split across deltas. Markers to
existing sources are rewritten to one canonical form ("[1, 2]") and reported as
`Citation` events; numbers without a source are removed (and counted), and a marker with
no valid number disappears with the space before it. Brackets inside `code` are text, and
so is a delta fed as verbatim (a quote from a source: its "[1, 2, 3]" is a Python list).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from inference.backends.base import Delta
from inference.sources import Source
from textproc.sentences import (
    MARKER_CLOSERS,
    MARKER_INNER,
    MARKER_OPENERS,
    MARKER_RANGE_DASHES,
)

_OPEN = rf"[{re.escape(MARKER_OPENERS)}]"
_FULL = re.compile(rf"{_OPEN}([{MARKER_INNER}]*)[{re.escape(MARKER_CLOSERS)}]")
_PARTIAL = re.compile(rf"{_OPEN}[{MARKER_INNER}]*\Z")
_NUMBER = re.compile(r"\d+")
_RANGE = re.compile(rf"(\d+)\s*[{MARKER_RANGE_DASHES}]\s*(\d+)")
MAX_MARKER_CHARS = 40
MAX_RANGE = 20  # [1-200] is not a citation range anyone means


@dataclass(frozen=True)
class Citation:
    numbers: tuple[int, ...]  # valid source numbers, in the order written
    sources: tuple[Source, ...]
    start: int  # offset of the canonical marker in the clean text
    end: int
    raw: str  # the marker as the model wrote it
    invalid: tuple[int, ...] = ()  # numbers removed: no such source


CitationEvent = Delta | Citation


def parse_numbers(inner: str) -> list[int]:
    """"1, 3-5" -> [1, 3, 4, 5]; full-width digits fold to ASCII."""
    inner = unicodedata.normalize("NFKC", inner)
    numbers: list[int] = []
    for part in re.split(r"[,，、]|\s+(?=\d)", inner):
        part = part.strip()
        if not part:
            continue
        ranged = _RANGE.fullmatch(part)
        if ranged:
            a, b = int(ranged.group(1)), int(ranged.group(2))
            if a <= b and b - a <= MAX_RANGE:
                numbers.extend(range(a, b + 1))
            else:
                numbers.extend((a, b))
            continue
        numbers.extend(int(x) for x in _NUMBER.findall(part))
    return numbers


def canonical_marker(numbers: Sequence[int]) -> str:
    return "[" + ", ".join(str(n) for n in numbers) + "]"


class CitationParser:
    """Feed deltas, get clean deltas and citation events; call `close()` at the end."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self.sources = {s.n: s for s in sources}
        self.citations: list[Citation] = []
        self.removed_numbers: list[int] = []  # numbers that pointed to no source
        self.removed_markers = 0  # markers that vanished entirely
        self._buffer = ""  # a possible marker, not yet complete
        self._pending_ws = ""  # whitespace held back: it goes if a removed marker follows
        self._parts: list[str] = []
        self._length = 0
        self._backticks = 0
        self._closed = False

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def invalid_count(self) -> int:
        return len(self.removed_numbers)

    def feed(self, delta: str, *, verbatim: bool = False) -> list[CitationEvent]:
        if self._closed:
            raise RuntimeError("feed() after close()")
        if not verbatim:
            return self._process(self._buffer + delta, final=False)
        # What came before cannot continue into a quote: settle it, then pass the quote.
        events = self._process(self._buffer, final=True)
        return events + self._emit(delta, hold_ws=True, count_code=False) if delta else events

    def close(self) -> list[CitationEvent]:
        events = self._process(self._buffer, final=True)
        events.extend(self._emit("", hold_ws=False))
        self._closed = True
        return events

    def parse(self, deltas: Iterable[str]) -> Iterator[CitationEvent]:
        for delta in deltas:
            yield from self.feed(delta)
        yield from self.close()

    def _process(self, text: str, *, final: bool) -> list[CitationEvent]:
        events: list[CitationEvent] = []
        self._buffer = ""
        i = 0
        while i < len(text):
            j = self._next_open(text, i)
            if j < 0:
                events += self._text(text[i:])
                break
            events += self._text(text[i:j])
            match = _FULL.match(text, j)
            if match and _NUMBER.search(unicodedata.normalize("NFKC", match.group(1))) \
                    and match.end() - j <= MAX_MARKER_CHARS:
                events += self._marker(match.group(0), match.group(1))
                i = match.end()
                continue
            if not final and _PARTIAL.match(text, j) and len(text) - j < MAX_MARKER_CHARS:
                self._buffer = text[j:]
                break
            events += self._text(text[j])
            i = j + 1
        return events

    def _next_open(self, text: str, start: int) -> int:
        """Index of the next bracket that may open a marker (outside `code`), or -1."""
        ticks = self._backticks
        for k in range(start, len(text)):
            ch = text[k]
            if ch == "`":
                ticks += 1
            elif ch in MARKER_OPENERS and ticks % 2 == 0:
                return k
        return -1

    def _text(self, text: str) -> list[CitationEvent]:
        if not text:
            return []
        return self._emit(text, hold_ws=True)

    def _emit(self, text: str, *, hold_ws: bool, count_code: bool = True) -> list[CitationEvent]:
        text = self._pending_ws + text
        self._pending_ws = ""
        if hold_ws:
            body = text.rstrip()
            self._pending_ws = text[len(body):]
            text = body
        if not text:
            return []
        if count_code:  # a quote's own backticks must not turn later markers into code
            self._backticks += text.count("`")
        self._parts.append(text)
        self._length += len(text)
        return [Delta(text)]

    def _marker(self, raw: str, inner: str) -> list[CitationEvent]:
        numbers = parse_numbers(inner)
        valid: list[int] = []
        for n in numbers:
            if n in self.sources and n not in valid:
                valid.append(n)
        invalid = tuple(n for n in numbers if n not in self.sources)
        self.removed_numbers.extend(invalid)
        if not valid:
            self.removed_markers += 1
            self._pending_ws = ""  # "Paris [9]." -> "Paris."
            return []
        events = self._emit("", hold_ws=False)  # the held-back space goes before it
        marker = canonical_marker(valid)
        start = self._length
        events += self._emit(marker, hold_ws=False)
        citation = Citation(tuple(valid), tuple(self.sources[n] for n in valid), start,
                            start + len(marker), raw, invalid)
        self.citations.append(citation)
        events.append(citation)
        return events


def parse_citations(text: str, sources: Iterable[Source]) -> tuple[str, list[Citation], int]:
    """The whole-text form: (clean text, citations, number of removed numbers)."""
    parser = CitationParser(sources)
    for _ in parser.parse([text]):
        pass
    return parser.text, parser.citations, parser.invalid_count
