"""The parsers' common output: a document as an ordered list of text blocks."""

from __future__ import annotations

from dataclasses import dataclass, field

BLOCK_KINDS = frozenset({"heading", "paragraph", "list", "table_row", "table_header", "code"})


@dataclass(frozen=True)
class Block:
    """One unit of a document's text, in reading order.

    `page` is 1-based (a PDF page or a slide number) and None where the format has no
    pages. `heading_path` holds the headings above the block, outermost first; a
    heading block's own path ends with itself, so a section is a run of blocks that
    share one path.

    `line` is the 1-based line of the source file the block's text starts on, as a
    person counts it (a text, Markdown or CSV file's line in an editor, a spreadsheet's
    row number in its sheet), None where lines mean nothing to a reader (PDF, Word,
    HTML, slides). `line_breaks` are the offsets in `text` where each later source line
    starts: the i-th (0-based) begins line `line + i + 1` (a hard-wrapped paragraph
    joined into one line, or a code block's lines).
    """

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    kind: str = "paragraph"
    line: int | None = None
    line_breaks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise ValueError(f"unknown block kind {self.kind!r}")


@dataclass
class ParsedDocument:
    blocks: list[Block] = field(default_factory=list)
    detected_type: str = "text"
    page_count: int | None = None
    title: str | None = None
