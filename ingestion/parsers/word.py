"""Word (.docx): headings from paragraph styles (or outline levels), list items, and
tables as header-labelled rows, in document order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import HeadingStack, table_blocks
from textproc.normalize import clean_inline, normalize_text

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

# Word stores built-in style names in English whatever the UI language; "제목" covers
# documents whose author created a custom Korean heading style.
_HEADING_STYLE = re.compile(r"^(?:heading|제목)\s*(\d)$", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _heading_level(paragraph: Paragraph) -> int | None:
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name.strip())
    if match:
        return int(match.group(1))
    # Direct formatting: an outline level set on the paragraph itself.
    outline = paragraph._p.find(f"{_W}pPr/{_W}outlineLvl")
    if outline is not None:
        value = outline.get(f"{_W}val", "")
        if value.isdigit() and int(value) < 9:
            return int(value) + 1
    return None


def _is_list_item(paragraph: Paragraph) -> bool:
    if paragraph._p.find(f"{_W}pPr/{_W}numPr") is not None:
        return True
    style = paragraph.style
    return style is not None and (style.name or "").lower().startswith("list")


def _table_rows(table: Table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text)
        rows.append(cells)
    return rows


def parse_docx(path: Path) -> ParsedDocument:
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    headings = HeadingStack()
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(table_blocks(_table_rows(item), heading_path=headings.path))
            continue
        text = normalize_text(item.text)
        if not text:
            continue
        level = _heading_level(item)
        if level is not None:
            title = clean_inline(text)
            blocks.append(Block(title, heading_path=headings.push(level, title), kind="heading"))
        else:
            kind = "list" if _is_list_item(item) else "paragraph"
            blocks.append(Block(text, heading_path=headings.path, kind=kind))
    title = clean_inline(document.core_properties.title or "") or next(
        (b.text for b in blocks if b.kind == "heading"), None
    )
    return ParsedDocument(blocks=blocks, detected_type="docx", page_count=None, title=title)
