"""Excel (.xlsx): each visible sheet is a section headed by its name; each visible row is
a "header: value" record, so a retrieved row still says what its numbers mean.

Read as a person sees the sheet: a merged cell's value stands in every cell it covers
(a category merged down ten rows belongs to each of them), percentages read as
percentages, and hidden sheets, rows and columns are left out, since nobody reading the
workbook sees them and they must never be quoted as its content.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import table_blocks
from textproc.normalize import clean_inline

if TYPE_CHECKING:
    from lxml.etree import _Element as Element
    from openpyxl.cell.read_only import ReadOnlyCell as Cell
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_LAYOUT_TAGS = (f"{_MAIN}row", f"{_MAIN}col", f"{_MAIN}mergeCell")


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


@dataclass
class _Layout:
    """What the cell stream does not say: merged ranges ("A2:A4") and hidden rows and
    columns (1-based)."""

    merged: list[str] = field(default_factory=list)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)


def _hidden(element: Element) -> bool:
    return (element.get("hidden") or "0").lower() in ("1", "true")


def _read_layout(source: BinaryIO) -> _Layout:
    """One streaming pass over a worksheet's XML (read-only mode does not expose these;
    the full mode would hold every cell as an object, several times the memory)."""
    from lxml import etree

    layout, row_number = _Layout(), 0
    # The package passed safety.check_office_xml (no DTD); entities stay unresolved.
    for _, element in etree.iterparse(source, tag=_LAYOUT_TAGS, resolve_entities=False,
                                      no_network=True):
        if element.tag == f"{_MAIN}row":
            row_number = int(element.get("r") or row_number + 1)
            if _hidden(element):
                layout.hidden_rows.add(row_number)
            element.clear()  # openpyxl reads the cells; keep memory flat here
        elif element.tag == f"{_MAIN}col" and _hidden(element):
            layout.hidden_columns.update(range(int(element.get("min") or 1),
                                               int(element.get("max") or 0) + 1))
        elif element.tag == f"{_MAIN}mergeCell" and element.get("ref"):
            layout.merged.append(element.get("ref"))
    return layout


def _fill_merged(rows: list[list[str]], merged: list[str]) -> None:
    """Give each merged range's top-left value to every cell it covers (openpyxl leaves
    them empty): a category merged down ten rows belongs to each of them."""
    from openpyxl.worksheet.cell_range import CellRange

    # A range may name a whole row or sheet: fill only as far as cells exist.
    width = max(map(len, rows), default=0)
    for reference in merged:
        area = CellRange(reference)
        last = min(area.max_col, width)
        if area.min_row > len(rows) or area.min_col > last:
            continue
        value = rows[area.min_row - 1][area.min_col - 1:area.min_col] or [""]
        for row in rows[area.min_row - 1:area.max_row]:
            row.extend([""] * (last - len(row)))
            row[area.min_col - 1:last] = value * (last - area.min_col + 1)


def _visible_rows(sheet: ReadOnlyWorksheet) -> list[tuple[int, list[str]]]:
    """The visible rows with their row numbers as Excel shows them (1-based)."""
    # A read-only sheet keeps its archive and part name (private, but stable since
    # openpyxl 2.4): the layout pass reads the same part the cells come from.
    with sheet.parent._archive.open(sheet._worksheet_path) as source:
        layout = _read_layout(source)
    # Read-only mode trusts the sheet's declared dimension; tools that write a wrong
    # one ("A1") would lose every other row. Read what is there instead.
    sheet.reset_dimensions()
    rows = [[_cell_text(cell) for cell in cells]
            for cells in sheet.iter_rows(min_row=1, min_col=1)]
    _fill_merged(rows, layout.merged)
    # iter_rows from row 1 yields every row, empty ones included: the n-th is row n.
    return [(number, [text for column, text in enumerate(row, start=1)
                      if column not in layout.hidden_columns])
            for number, row in enumerate(rows, start=1) if number not in layout.hidden_rows]


def _sheet_blocks(sheet: ReadOnlyWorksheet) -> list[Block]:
    path = (clean_inline(sheet.title),)
    numbered = _visible_rows(sheet)
    body = table_blocks([row for _, row in numbered], heading_path=path,
                        lines=[number for number, _ in numbered])
    return [Block(path[0], heading_path=path, kind="heading"), *body] if body else []


def parse_xlsx(path: Path) -> ParsedDocument:
    # openpyxl parses through defusedxml when it is installed (it is a dependency of
    # this package), which refuses entity declarations.
    import openpyxl

    # A file object, not a path: the stored original has no extension, and openpyxl
    # refuses a path whose extension it does not know.
    with path.open("rb") as handle:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        try:
            blocks = [block for sheet in workbook.worksheets if sheet.sheet_state == "visible"
                      for block in _sheet_blocks(sheet)]
            title = clean_inline(workbook.properties.title or "") or None
        finally:
            workbook.close()
    return ParsedDocument(blocks=blocks, detected_type="xlsx", page_count=None, title=title)
