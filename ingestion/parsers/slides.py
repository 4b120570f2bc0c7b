"""PowerPoint (.pptx): one section per slide. The slide title is the heading, the page
is the slide number, and body text, tables and speaker notes follow in shape order."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import table_blocks
from textproc.normalize import clean_inline, normalize_text

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape


def _shape_blocks(
    shape: BaseShape, page: int, path: tuple[str, ...], title_id: int | None
) -> list[Block]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_id == title_id:
        return []
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [b for child in shape.shapes for b in _shape_blocks(child, page, path, title_id)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        return table_blocks(rows, page=page, heading_path=path)
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
    from pptx import Presentation

    presentation = Presentation(str(path))
    blocks: list[Block] = []
    first_title: str | None = None
    slide_count = 0
    for number, slide in enumerate(presentation.slides, start=1):
        slide_count = number
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
