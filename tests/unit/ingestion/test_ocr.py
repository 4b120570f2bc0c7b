"""OCR of images and scanned PDFs with the real Tesseract binary, and the message when
it is not installed (simulated with a PATH that lacks it, not with mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.errors import OcrUnavailable
from ingestion.parse import parse_document
from tests.unit.ingestion.conftest import DEJAVU


def text_image(path: Path, korean_font: Path) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1400, 360), "white")
    draw = ImageDraw.Draw(image)
    english = ImageFont.truetype(str(DEJAVU if DEJAVU.exists() else korean_font), 56)
    korean = ImageFont.truetype(str(korean_font), 64)
    draw.text((40, 40), "Invoice number 4821", fill="black", font=english)
    draw.text((40, 190), "회의실 예약 안내", fill="black", font=korean)
    image.save(path)
    return path


def test_png_ocr_english_and_korean(tmp_path: Path, korean_font: Path, needs_tesseract):
    path = text_image(tmp_path / "scan.png", korean_font)
    doc = parse_document(path, "scan.png")
    assert doc.detected_type == "png"
    text = " ".join(b.text for b in doc.blocks)
    assert "Invoice" in text
    assert "4821" in text
    assert "예약" in text.replace(" ", "") or "회의실" in text.replace(" ", "")
    assert {b.page for b in doc.blocks} == {1}


def test_scanned_pdf_goes_through_ocr(tmp_path: Path, korean_font: Path, needs_tesseract):
    from fpdf import FPDF

    image = text_image(tmp_path / "page.png", korean_font)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(image), x=10, y=10, w=190)
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    doc = parse_document(path, "scan.pdf")
    assert doc.detected_type == "pdf"
    assert "Invoice" in " ".join(b.text for b in doc.blocks)
    assert {b.page for b in doc.blocks} == {1}


def test_without_tesseract_the_message_says_what_to_install(
    tmp_path: Path, korean_font: Path, monkeypatch: pytest.MonkeyPatch
):
    path = text_image(tmp_path / "scan.jpg.png", korean_font)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(OcrUnavailable, match="install tesseract-ocr and tesseract-ocr-kor"):
        parse_document(path, "scan.png")
