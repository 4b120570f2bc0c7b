"""CSV and TSV: each row becomes a "header: value" record under the header row.

The delimiter is the candidate that splits the records into the same number of fields
most consistently, counting only delimiters outside quoted fields (a quoted note may
hold commas, semicolons and line breaks). Once it is known, the standard library's csv
module does the parsing (quotes, doubled quotes, CRLF, multi-line fields).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

from ingestion.blocks import ParsedDocument
from ingestion.parsers.common import table_blocks
from textproc.encoding import decode_bytes

# Fields longer than this are not table cells but a mis-detected delimiter.
_FIELD_LIMIT = 1_000_000
_CANDIDATES = (",", ";", "\t", "|")
_SAMPLE_RECORDS = 200
_SAMPLE_CHARS = 100_000
_FIELD_START = frozenset((*_CANDIDATES, "\r", "\n", '"'))
_SEP_LINE = re.compile(r"\Asep=(.)\r?\n")


def _field_counts(sample: str) -> dict[str, list[int]]:
    """Per candidate delimiter, how many of it each record holds outside quotes.
    Records end at a line break outside quotes; blank lines are skipped. As in the csv
    module, a quote opens a quoted field only at the field's start (a doubled quote
    inside one closes and reopens it); elsewhere it is a character (24" screen)."""
    counts: dict[str, list[int]] = {d: [] for d in _CANDIDATES}
    current = Counter[str]()
    quoted, previous = False, "\n"
    for char in sample:
        toggles = char == '"' and (quoted or previous in _FIELD_START)
        previous = char
        if toggles:
            quoted = not quoted
            current[""] += 1  # "": any character that is not a delimiter (not blank)
        elif quoted:
            continue
        elif char in "\r\n":
            _end_record(counts, current)
            if len(counts[","]) >= _SAMPLE_RECORDS:
                break
        elif char in _CANDIDATES or not char.isspace():
            current[char if char in _CANDIDATES else ""] += 1
    if not quoted:
        _end_record(counts, current)
    return counts


def _end_record(counts: dict[str, list[int]], current: Counter[str]) -> None:
    """Record the record's delimiter counts (unless it was blank) and start afresh."""
    if current:
        for delimiter in _CANDIDATES:
            counts[delimiter].append(current[delimiter])
    current.clear()


def _consistency(per_record: list[int]) -> tuple[float, int]:
    """(share of records with the most common non-zero count, that count)."""
    nonzero = [n for n in per_record if n]
    if not nonzero:
        return (0.0, 0)
    count, times = Counter(nonzero).most_common(1)[0]
    return (times / len(per_record), count)


def detect_delimiter(text: str) -> str:
    """The delimiter of delimited text: the candidate (, ; tab |) whose count outside
    quotes is the same in most records; "," when none occurs (one column)."""
    counts = _field_counts(text[:_SAMPLE_CHARS])
    best = max(_CANDIDATES, key=lambda d: _consistency(counts[d]))
    return best if _consistency(counts[best])[1] else ","


def _declared_delimiter(text: str) -> tuple[str | None, str]:
    """Excel's "sep=;" first line, which names the delimiter and is not data."""
    match = _SEP_LINE.match(text)
    return (match.group(1), text[match.end():]) if match else (None, text)


def _records(text: str, delimiter: str, first_line: int) -> tuple[list[list[str]], list[int]]:
    """The non-blank records of `text` and the line each starts on (1-based, counted as
    a text editor counts the file's lines, from `first_line`): a record with a quoted
    line break spans several lines and is cited by its first."""
    csv.field_size_limit(_FIELD_LIMIT)
    # newline="" keeps line breaks inside quoted fields for the csv module to handle.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, lines, consumed = [], [], 0
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append(row)
            lines.append(first_line + consumed)
        consumed = reader.line_num
    return rows, lines


def parse_csv(path: Path) -> ParsedDocument:
    whole = decode_bytes(path.read_bytes())
    declared, text = _declared_delimiter(whole)
    rows, lines = _records(text, declared or detect_delimiter(text),
                           first_line=2 if declared else 1)
    return ParsedDocument(blocks=table_blocks(rows, lines=lines), detected_type="csv",
                          page_count=None, title=None)
