"""Small helpers the parsers share: turning text into blocks, and the heading stack."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import groupby

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
    lines: list[int] | None = None, marked_header: bool = False,
) -> list[Block]:
    """A table as a header block ("A | B | C") and one record per row ("A: 1; B: 2"), so
    every row stays meaningful when a chunk holds only part of the table. `lines`, when
    given, holds each row's source line (a CSV line, a spreadsheet row number), which its
    block keeps. `marked_header`: the format marks the first row as the header (Markdown's
    row above its |---| line, HTML's row of th cells); a blank label there labels nothing
    ("| Field | | |" gives records "Field: `file`; required; PDF, ..."), where guessing took
    the first record's values for labels.

    Read as a person reads a small table: the header is the first row of two or more
    labels (no numbers or dates: a year is a label) with rows below it; rows above it (a
    title banner, "Prepared: 2025-01-01") and every row of a table without one (a
    "Summary" sheet of "Revenue | 1200" pairs) are lines of their own ("Revenue: 1200").
    A header with a single record below it is said once, in the record."""
    numbered = [([clean_inline(cell) for cell in row], number) for row, number in
                zip(rows, lines or _no_lines(rows), strict=True)]
    numbered = [(row, number) for row, number in numbered if any(row)]

    def block(text: str, number: int | None, kind: str = "paragraph") -> Block:
        return Block(text, page=page, heading_path=heading_path, kind=kind, line=number)

    marked = marked_header and len(numbered) > 1 and any(rows[0])
    start = 0 if marked else _header_index([row for row, _ in numbered])
    lead = [block(_line_text(row), number) for row, number in numbered[:start]]
    if start == len(numbered):
        return lead
    (first, first_line), *body = numbered[start:]
    header = first if marked else [cell or f"Column {i + 1}" for i, cell in enumerate(first)]
    records = [(_record(header, row), number) for row, number in body]
    records = [(text, number) for text, number in records if text]
    if len(records) == 1:
        # The record names every label: a header block beside it would only repeat them.
        return [*lead, block(records[0][0], records[0][1])]
    return [*lead, block(" | ".join(filter(None, header)), first_line, "table_header"),
            *(block(text, number, "table_row") for text, number in records)]


# A cell holding a quantity or a date, not a label: "1,200", "-3.5", "15%", "€40",
# "2025-01-01", "01/02/2025". A bare year ("2024") is a common column label and stays one.
_VALUE = re.compile(r"[-+(]?[$€£¥₩]?\s?\d[\d,.\s]*(?:%|[kKmM])?\)?"
                    r"|\d{4}-\d{2}-\d{2}(?:[ T][\d:.]+)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")
_YEAR = re.compile(r"(?:19|20)\d\d")


def _is_value(cell: str) -> bool:
    return bool(_VALUE.fullmatch(cell)) and not _YEAR.fullmatch(cell)


def _header_index(rows: list[list[str]]) -> int:
    """The index of the header row, or len(rows) when the table has none: the first row
    of two or more distinct labels with a row below it. A table whose first row pairs a
    label with a value ("Total | 2") is a list of such pairs, whatever follows."""
    cells = [_distinct(row) for row in rows]
    if cells and len(cells[0]) == 2 and _is_value(cells[0][1]) and all(
            len(row) == 2 and not _is_value(row[0]) for row in cells):
        return len(rows)
    return next((i for i, row in enumerate(cells[:-1])
                 if len(set(row)) >= 2 and not any(map(_is_value, row))), len(rows))


def _line_text(row: list[str]) -> str:
    """A row outside the header's table: "Revenue: 1200" for a label and its value,
    else its cells in order."""
    cells = _distinct(row)
    if len(cells) == 2 and not _is_value(cells[0]):
        return f"{cells[0]}: {cells[1]}"
    return " | ".join(cells)


def _distinct(row: list[str]) -> list[str]:
    """The row's values in order, a value repeated in adjacent cells once (a merged cell
    fills each cell it covers: ingestion.parsers.spreadsheet)."""
    return [cell for cell, _ in groupby(row) if cell]


def _record(header: list[str], row: list[str]) -> str:
    """ "A: 1; B: 2"; a value under a blank label stands alone."""
    labels = [*header, *(f"Column {i + 1}" for i in range(len(header), len(row)))]
    return "; ".join(f"{label}: {value}" if label else value
                     for label, value in zip(labels, row, strict=False) if value)


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
