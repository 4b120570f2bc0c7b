"""Excel (.xlsx): each visible sheet is a section headed by its name; each visible row is
a "header: value" record, so a retrieved row still says what its numbers mean.

Read as a person sees the sheet: a merged cell's value stands in every cell it covers
(a category merged down ten rows belongs to each of them), percentages read as
percentages, and hidden sheets, rows and columns are left out, since nobody reading the
workbook sees them and they must never be quoted as its content.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import table_blocks
from textproc.normalize import clean_inline

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet


def _value_text(value: object, number_format: str = "General") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool) and "%" in number_format:
        return f"{value * 100:g}%"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell_text(cell: Cell) -> str:
    return _value_text(cell.value, cell.number_format or "General")


def _merged_values(sheet: Worksheet) -> dict[tuple[int, int], str]:
    """(row, column) -> the text of the merged range's top-left cell, for every cell the
    range covers (openpyxl leaves the covered cells empty)."""
    filled: dict[tuple[int, int], str] = {}
    for merged in sheet.merged_cells.ranges:
        text = _cell_text(sheet.cell(merged.min_row, merged.min_col))
        for row, column in merged.cells:
            filled[(row, column)] = text
    return filled


def _hidden_columns(sheet: Worksheet) -> set[int]:
    # A column dimension covers the columns min..max (1-based) of one formatting group.
    return {column for dim in sheet.column_dimensions.values() if dim.hidden
            for column in range(dim.min or 0, (dim.max or 0) + 1)}


def _hidden_row(sheet: Worksheet, row: int) -> bool:
    dimension = sheet.row_dimensions.get(row)
    return dimension is not None and bool(dimension.hidden)


def _visible_rows(sheet: Worksheet) -> list[list[str]]:
    merged = _merged_values(sheet)
    hidden_columns = _hidden_columns(sheet)
    rows = []
    for cells in sheet.iter_rows():
        if not cells or _hidden_row(sheet, cells[0].row):
            continue
        rows.append([merged.get((cell.row, cell.column)) or _cell_text(cell)
                     for cell in cells if cell.column not in hidden_columns])
    return rows


def parse_xlsx(path: Path) -> ParsedDocument:
    # openpyxl parses through defusedxml when it is installed (it is a dependency of
    # this package), which refuses entity declarations. The full (not read-only) mode
    # is needed: only it reads merged ranges and hidden rows and columns.
    import openpyxl

    # A file object, not a path: the stored original has no extension, and openpyxl
    # refuses a path whose extension it does not know.
    with path.open("rb") as handle:
        workbook = openpyxl.load_workbook(handle, data_only=True)
    blocks: list[Block] = []
    for sheet in workbook.worksheets:
        if sheet.sheet_state != "visible":
            continue
        name = clean_inline(sheet.title)
        body = table_blocks(_visible_rows(sheet), heading_path=(name,))
        if body:
            blocks.append(Block(name, heading_path=(name,), kind="heading"))
            blocks.extend(body)
    title = clean_inline(workbook.properties.title or "") or None
    return ParsedDocument(blocks=blocks, detected_type="xlsx", page_count=None, title=title)
