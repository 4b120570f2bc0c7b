"""Plain text: paragraphs separated by blank lines."""

from __future__ import annotations

from pathlib import Path

from ingestion.blocks import ParsedDocument
from ingestion.parsers.common import paragraph_blocks
from textproc.encoding import decode_bytes


def parse_text(path: Path) -> ParsedDocument:
    text = decode_bytes(path.read_bytes())
    return ParsedDocument(blocks=paragraph_blocks(text), detected_type="text",
                          page_count=None, title=None)
