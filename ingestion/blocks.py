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
    """

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    kind: str = "paragraph"

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise ValueError(f"unknown block kind {self.kind!r}")


@dataclass
class ParsedDocument:
    blocks: list[Block] = field(default_factory=list)
    detected_type: str = "text"
    page_count: int | None = None
    title: str | None = None
