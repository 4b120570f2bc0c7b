"""Excel (.xlsx): each sheet is a section headed by its name; each row is a
"header: value" record, so a retrieved row still says what its numbers mean."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import table_blocks
from textproc.normalize import clean_inline


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_xlsx(path: Path) -> ParsedDocument:
    # openpyxl parses through defusedxml when it is installed (it is a dependency of
    # this package), which refuses entity declarations.
    import openpyxl

    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        blocks: list[Block] = []
        for sheet in workbook.worksheets:
            name = clean_inline(sheet.title)
            rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            body = table_blocks(rows, heading_path=(name,))
            if body:
                blocks.append(Block(name, heading_path=(name,), kind="heading"))
                blocks.extend(body)
        title = clean_inline(workbook.properties.title or "") or None
    finally:
        workbook.close()
    return ParsedDocument(blocks=blocks, detected_type="xlsx", page_count=None, title=title)
