"""PowerPoint (.pptx): one section per slide. The slide title is the heading, the page
is the slide number, and body text (grouped shapes included), tables and speaker notes
follow in shape order. Hidden slides and hidden shapes are left out: the audience never
sees them, so they must never be quoted as the deck's content."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import table_blocks
from textproc.normalize import clean_inline, normalize_text

if TYPE_CHECKING:
    from pptx.oxml.xmlchemy import BaseOxmlElement
    from pptx.shapes.base import BaseShape
    from pptx.table import Table

_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_OFF = ("0", "false")


def _hidden(element: BaseOxmlElement) -> bool:
    """A slide (p:sld show="0") or a shape (its cNvPr hidden="1") set not to show."""
    if element.get("show") in _OFF:
        return True
    properties = element[0].find(f"{_P}cNvPr") if len(element) else None
    return properties is not None and properties.get("hidden") not in (None, *_OFF)


def _margin(shape: BaseShape) -> bool:
    """A slide number, date or footer placeholder: the same on every slide, not content."""
    from pptx.enum.shapes import PP_PLACEHOLDER

    return shape.is_placeholder and shape.placeholder_format.type in (
        PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER)


def _table_rows(table: Table) -> list[list[str]]:
    """Cell texts; a cell merged down several rows gives its value to each of them (a
    cell merged across columns fills only the first, as in Word tables)."""
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            if cell.is_merge_origin:
                for below in range(r + 1, min(r + cell.span_height, len(rows))):
                    rows[below][c] = rows[r][c]
    return rows


def _shape_blocks(
    shape: BaseShape, page: int, path: tuple[str, ...], title_id: int | None
) -> list[Block]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_id == title_id or _hidden(shape._element) or _margin(shape):
        return []
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [b for child in shape.shapes for b in _shape_blocks(child, page, path, title_id)]
    if getattr(shape, "has_table", False) and shape.has_table:
        return table_blocks(_table_rows(shape.table), page=page, heading_path=path)
    if not getattr(shape, "has_text_frame", False) or not shape.has_text_frame:
        return []
    blocks = []
    for paragraph in shape.text_frame.paragraphs:
        text = normalize_text("".join(run.text for run in paragraph.runs) or paragraph.text)
        if text:
            # Indented paragraphs on a slide are bullet points under the one above.
            kind = "list" if paragraph.level > 0 else "paragraph"
            blocks.append(Block(text, page=page, heading_path=path, kind=kind))
    return blocks


def parse_pptx(path: Path) -> ParsedDocument:
    from pptx.package import Package

    # A file object, not a path: the stored original has no extension. The package,
    # not pptx.Presentation(), which refuses shows (.ppsx) and templates (.potx) by
    # their content type although it reads them like any deck.
    with path.open("rb") as handle:
        presentation = Package.open(handle).main_document_part.presentation
    blocks: list[Block] = []
    first_title: str | None = None
    slide_count = 0
    for number, slide in enumerate(presentation.slides, start=1):
        slide_count = number
        if _hidden(slide._element):
            continue
        title_shape = slide.shapes.title
        title = clean_inline(title_shape.text_frame.text) if title_shape is not None else ""
        heading_path: tuple[str, ...] = (title,) if title else ()
        if title:
            first_title = first_title or title
            blocks.append(Block(title, page=number, heading_path=heading_path, kind="heading"))
        title_id = title_shape.shape_id if title_shape is not None else None
        for shape in slide.shapes:
            blocks.extend(_shape_blocks(shape, number, heading_path, title_id))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                for para in normalize_text(notes.text).split("\n\n"):
                    blocks.append(Block(para, page=number, heading_path=heading_path))
    title = clean_inline(presentation.core_properties.title or "") or first_title
    return ParsedDocument(blocks=blocks, detected_type="pptx", page_count=slide_count,
                          title=title)
