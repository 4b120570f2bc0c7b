"""Small helpers the parsers share: turning text into blocks, and the heading stack."""

from __future__ import annotations

import re
from collections.abc import Callable

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
    rows: list[list[str]], *, page: int | None = None, heading_path: tuple[str, ...] = (),
    lines: list[int] | None = None,
) -> list[Block]:
    """A table as a header block ("A | B | C") and one record per row
    ("A: 1; B: 2"), so every row stays meaningful when a chunk holds only part of the
    table. The first row with two or more values is the header; rows above it holding
    one value (a title banner spanning the columns) are paragraphs before it. `lines`,
    when given, holds each row's source line (a CSV line, a spreadsheet row number),
    which its block keeps."""
    numbered = [([clean_inline(cell) for cell in row], number) for row, number in
                zip(rows, lines or _no_lines(rows), strict=True)]
    numbered = [(row, number) for row, number in numbered if any(row)]
    start = next((i for i, (row, _) in enumerate(numbered)
                  if len({c for c in row if c}) >= 2), 0)

    def block(text: str, number: int | None, kind: str = "paragraph") -> Block:
        return Block(text, page=page, heading_path=heading_path, kind=kind, line=number)

    titles = [block(next(c for c in row if c), number) for row, number in numbered[:start]]
    numbered = numbered[start:]
    if not numbered:
        return []
    (first, first_line), *body = numbered
    header = [cell or f"Column {i + 1}" for i, cell in enumerate(first)]
    blocks = [*titles, block(" | ".join(header), first_line, "table_header")]
    for row, number in body:
        pairs = []
        for i, value in enumerate(row):
            if not value:
                continue
            name = header[i] if i < len(header) else f"Column {i + 1}"
            pairs.append(f"{name}: {value}")
        if pairs:
            blocks.append(block("; ".join(pairs), number, "table_row"))
    if len(blocks) == len(titles) + 1:
        # A one-row table has no header to speak of: keep its text as a paragraph.
        return [*titles, block(" | ".join(first), first_line)]
    return blocks


def _no_lines(rows: list[list[str]]) -> list[int | None]:
    return [None] * len(rows)


def line_breaks(joined: str, lines: list[str], clean: Callable[[str], str]) -> tuple[int, ...]:
    """Where each of `lines` after the first starts in `joined`, the text they were
    joined and cleaned into (`clean`, e.g. markup removed), for Block.line_breaks. Each is
    found by its own cleaned text's first words, searched from the previous line on; a
    line whose words are not found (cleaning crossed the line break) ends the search,
    so later lines count as the last one found."""
    found: list[int] = []
    cursor = 0
    for line in lines[1:]:
        words = clean(line).split()[:3]
        at = joined.find(" ".join(words), cursor + 1) if words else -1
        if at < 0:
            break
        found.append(at)
        cursor = at
    return tuple(found)


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """Each line of `text` in its stored form (textproc.normalize_text), with its 1-based
    number in the file as an editor counts it; blank lines stay, empty, so that the
    numbers hold."""
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [(number, " ".join(normalize_text(line).split("\n")))
            for number, line in enumerate(raw, start=1)]
