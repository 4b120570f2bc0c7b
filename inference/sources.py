"""The numbered passages an answer may cite, as plain data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Source:
    n: int  # the number the answer cites: [n]
    chunk_id: int
    title: str
    document: str  # original file name
    page: int | None
    heading_path: tuple[str, ...]
    text: str
    score: float  # retrieval score; higher is better (used to drop sources first)
    kb_key: str = field(default="", compare=False)
    # Retrieval's idf-weighted share of the question's terms in this passage (0..1; None
    # when unknown): how much the passage is about the question, as a whole.
    coverage: float | None = field(default=None, compare=False)
    # Character offsets in `text` where a new section (heading path) begins: a passage may
    # join several small sections, and a quote's context belongs to its own section.
    section_starts: tuple[int, ...] = field(default=(), compare=False)

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)

    def label(self) -> str:
        """"Title, p. 3, Install > Windows": what a person sees next to the number."""
        parts = [self.title or self.document]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading_path:
            parts.append(self.heading)
        return ", ".join(p for p in parts if p)


def number_sources(sources: Iterable[Source], *, start: int = 1) -> list[Source]:
    """Renumber in the given (ranked) order: 1, 2, 3..."""
    return [replace(source, n=start + i) for i, source in enumerate(sources)]


def by_number(sources: Iterable[Source]) -> dict[int, Source]:
    return {source.n: source for source in sources}
