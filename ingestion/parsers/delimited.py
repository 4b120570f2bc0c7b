"""CSV and TSV: each row becomes a "header: value" record under the header row."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ingestion.blocks import ParsedDocument
from ingestion.parsers.common import table_blocks
from textproc.encoding import decode_bytes

# Fields longer than this are not table cells but a mis-detected delimiter.
_FIELD_LIMIT = 1_000_000


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel


def parse_csv(path: Path) -> ParsedDocument:
    text = decode_bytes(path.read_bytes())
    csv.field_size_limit(_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text), _dialect(text[:20_000]))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    return ParsedDocument(blocks=table_blocks(rows), detected_type="csv", page_count=None,
                          title=None)
