"""Small helpers the parsers share: turning text into blocks, and the heading stack."""

from __future__ import annotations

import re

from ingestion.blocks import Block
from textproc.normalize import clean_inline, normalize_text


class HeadingStack:
    """Tracks the headings above the current position. A heading of level N replaces
    any heading at level N or deeper."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._stack)


def paragraph_blocks(
    text: str, *, page: int | None = None, heading_path: tuple[str, ...] = ()
) -> list[Block]:
    """Split text on blank lines into paragraph blocks; lines inside a paragraph are
    joined (hard-wrapped plain text and OCR output break lines mid-sentence)."""
    blocks = []
    for para in re.split(r"\n\s*\n", normalize_text(text)):
        joined = " ".join(line.strip() for line in para.split("\n") if line.strip())
        if joined:
            blocks.append(Block(joined, page=page, heading_path=heading_path))
    return blocks


def table_blocks(
    rows: list[list[str]], *, page: int | None = None, heading_path: tuple[str, ...] = ()
) -> list[Block]:
    """A table as a header block ("A | B | C") and one record per row
    ("A: 1; B: 2"), so every row stays meaningful when a chunk holds only part of the
    table. The first row with two or more values is the header; rows above it holding
    one value (a title banner spanning the columns) are paragraphs before it."""
    rows = [[clean_inline(cell) for cell in row] for row in rows]
    rows = [row for row in rows if any(row)]
    start = next((i for i, row in enumerate(rows) if len({c for c in row if c}) >= 2), 0)
    titles = [Block(next(c for c in row if c), page=page, heading_path=heading_path)
              for row in rows[:start]]
    rows = rows[start:]
    if not rows:
        return []
    header = [cell or f"Column {i + 1}" for i, cell in enumerate(rows[0])]
    blocks = [*titles, Block(" | ".join(header), page=page, heading_path=heading_path,
                             kind="table_header")]
    for row in rows[1:]:
        pairs = []
        for i, value in enumerate(row):
            if not value:
                continue
            name = header[i] if i < len(header) else f"Column {i + 1}"
            pairs.append(f"{name}: {value}")
        if pairs:
            blocks.append(Block("; ".join(pairs), page=page, heading_path=heading_path,
                                kind="table_row"))
    if len(blocks) == len(titles) + 1:
        # A one-row table has no header to speak of: keep its text as a paragraph.
        return [*titles, Block(" | ".join(rows[0]), page=page, heading_path=heading_path)]
    return blocks
