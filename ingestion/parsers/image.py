"""PNG and JPEG images: text by OCR."""

from __future__ import annotations

from pathlib import Path

from ingestion.blocks import ParsedDocument
from ingestion.ocr import ocr_image
from ingestion.parsers.common import paragraph_blocks


def parse_image(path: Path, detected_type: str = "png") -> ParsedDocument:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        # Phone photos are stored sideways with an EXIF rotation flag.
        upright = ImageOps.exif_transpose(image)
        text = ocr_image(upright)
    return ParsedDocument(blocks=paragraph_blocks(text, page=1), detected_type=detected_type,
                          page_count=1, title=None)


def parse_png(path: Path) -> ParsedDocument:
    return parse_image(path, "png")


def parse_jpeg(path: Path) -> ParsedDocument:
    return parse_image(path, "jpeg")
