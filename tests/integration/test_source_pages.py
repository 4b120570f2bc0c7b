"""The source viewer a citation opens (issue 11, item 5): a PDF's cited page as an image
with the quoted sentence's boxes on it; other formats' text around the passage, each
sentence once, the quote marked; nothing for readers of other knowledge bases."""

from __future__ import annotations

import re
from io import BytesIO, StringIO
from itertools import pairwise
from pathlib import Path

import pytest
from PIL import Image

from citewise.knowledge import viewer
from citewise.knowledge.models import Chunk, Document
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import delete_document
from tests.factories import load_document, make_kb, make_user

pytestmark = pytest.mark.django_db(transaction=True)

QUOTE = "Visitors collect their parking permits at the reception desk on the ground floor."
RECT = re.compile(r'<rect class="(passage|quote)"(?: id="quote")? x="([\d.]+)" y="([\d.]+)" '
                  r'width="([\d.]+)" height="([\d.]+)"/>')


def building_pdf() -> bytes:
    """Page 1: a welcome. Page 2: a black bar at the top, a sentence near the top, and the
    quoted sentence in the lower half. Page 3: only a drawing, no text (like a scan)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(w=0, h=7, text="Welcome to the head office. The building opens at "
                   "seven in the morning on working days.")
    pdf.add_page()
    pdf.rect(10, 10, 190, 12, style="F")
    pdf.set_y(40)
    pdf.multi_cell(w=0, h=7, text="Parking for visitors is on level B1 of the garage.")
    pdf.set_y(200)
    pdf.multi_cell(w=0, h=7, text=QUOTE)
    pdf.add_page()
    pdf.rect(30, 30, 150, 100, style="D")
    return bytes(pdf.output())


@pytest.fixture
def guide():
    kb = make_kb("building")
    document = load_document(kb, "guide.pdf", building_pdf())
    return document


def reader_of(kb, client, name="kim"):
    reader = make_user(name)
    kb.reader_users.add(reader)
    client.force_login(reader)
    return reader


def passage_with(document: Document, words: str) -> Chunk:
    return next(c for c in document.chunks.order_by("ordinal") if words in c.text)


def boxes(page: str) -> list[tuple[str, float, float, float, float]]:
    return [(kind, *map(float, numbers)) for kind, *numbers in RECT.findall(page)]


def test_the_page_image_is_a_png_of_the_cited_page(client, guide):
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    response = client.get(f"/sources/{chunk.pk}/pages/2.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    image = Image.open(BytesIO(b"".join(response.streaming_content))).convert("L")
    # A4 (595 x 842 points) at 1.5 pixels a point.
    assert image.size == (893, 1263)
    # Page 2's black bar is at the top (10 mm from the edges, 12 mm high); page 1 has none.
    assert image.getpixel((450, 45)) < 50
    first = client.get(f"/sources/{chunk.pk}/pages/1.png")
    first_image = Image.open(BytesIO(b"".join(first.streaming_content))).convert("L")
    assert first_image.getpixel((450, 45)) > 200


def test_the_quoted_sentence_is_boxed_where_it_lies_on_the_page(client, guide):
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    response = client.get(f"/sources/{chunk.pk}/", {"page": 2, "quote": QUOTE})
    page = response.content.decode()
    assert f'src="/sources/{chunk.pk}/pages/2.png"' in page
    assert 'alt="guide.pdf, page 2 of 3"' in page
    assert 'viewBox="0 0 595.00 842.00"' in page or 'viewBox="0 0 595.28 841.89"' in page
    found = boxes(page)
    quote_boxes = [box for box in found if box[0] == "quote"]
    assert quote_boxes and 'class="quote" id="quote"' in page
    # The sentence sits 200 mm (567 points) down the page, left to right across it.
    for _, x, y, width, height in quote_boxes:
        assert 540 < y < 620 and 5 < height < 20
        assert x < 40 and width > 300
    # The passage's other sentence, near the top, is marked as the passage.
    assert any(kind == "passage" and y < 150 for kind, _, y, _, _ in found)
    # Screen readers get the quote as text; the page links to the original at that page.
    assert f"<blockquote>{QUOTE}</blockquote>" in page
    assert f"/documents/{guide.pk}/original#page=2" in page
    assert "Page 2 of 3" in page and "?page=1&amp;quote=" in page and "?page=3&amp;quote=" in page


def test_a_quote_with_other_line_breaks_and_case_is_still_found(client, guide):
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    messy = "visitors  collect their parking\npermits at the reception desk on the ground floor."
    page = client.get(f"/sources/{chunk.pk}/", {"page": 2, "quote": messy}).content.decode()
    # The passage has the sentence in its own case: the viewer shows it as the passage does.
    assert f"<blockquote>{QUOTE}</blockquote>" in page
    assert any(kind == "quote" for kind, *_ in boxes(page))


def test_a_page_is_rendered_once_and_its_images_go_with_the_document(client, guide,
                                                                        monkeypatch):
    renders = []
    real_render = viewer._render
    monkeypatch.setattr(viewer, "_render", lambda *args: renders.append(args) or real_render(*args))
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    first = b"".join(client.get(f"/sources/{chunk.pk}/pages/2.png").streaming_content)
    (cached,) = viewer.page_images_dir(guide.pk).iterdir()
    written = cached.stat().st_mtime_ns
    second = b"".join(client.get(f"/sources/{chunk.pk}/pages/2.png").streaming_content)
    assert first == second and len(renders) == 1 and cached.stat().st_mtime_ns == written
    delete_document(SYSTEM, guide)
    assert not viewer.page_images_dir(guide.pk).exists()


def test_a_page_without_text_shows_the_image_and_says_why_nothing_is_marked(client, guide):
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    page = client.get(f"/sources/{chunk.pk}/", {"page": 3}).content.decode()
    assert f'src="/sources/{chunk.pk}/pages/3.png"' in page
    assert "no text layer" in page and not boxes(page)
    assert "Page 3 of 3" in page and 'rel="next"' not in page


def test_others_get_not_found_for_the_page_its_image_and_the_original(client, guide):
    chunk = passage_with(guide, "reception desk")
    client.force_login(make_user("lee"))
    for url in (f"/sources/{chunk.pk}/?page=2", f"/sources/{chunk.pk}/pages/2.png",
                f"/documents/{guide.pk}/original"):
        assert client.get(url).status_code == 404, url
    assert not viewer.page_images_dir(guide.pk).exists()  # nothing rendered for them


def test_pages_the_document_lacks_are_not_found(client, guide):
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    for url in (f"/sources/{chunk.pk}/pages/0.png", f"/sources/{chunk.pk}/pages/4.png",
                f"/sources/{chunk.pk}/?page=4", "/sources/999999/pages/1.png"):
        assert client.get(url).status_code == 404, url


SECTIONS = {
    "Travel": [f"Travel rule {n} says trip {n} needs a form numbered T-{n}." for n in range(40)],
    "Meals": [f"Meal rule {n} pays {n} thousand won for lunch number {n}." for n in range(40)],
}


def handbook_html(hostile: str = "") -> bytes:
    body = "".join(f"<h2>{title}</h2>" + "".join(f"<p>{s}</p>" for s in sentences)
                   for title, sentences in SECTIONS.items())
    return (f"<html><head><title>Handbook{hostile}</title></head><body><h1>Handbook</h1>"
            f"{body}<p>{hostile}</p></body></html>").encode()


def extracted(page: str) -> str:
    article = re.search(r'<article class="extracted"[^>]*>(.*?)</article>', page, re.S)
    return re.sub(r"<[^>]+>", "", article.group(1))


def test_an_html_passage_shows_its_context_once_with_the_quote_marked(client, settings):
    settings.CHUNK_OVERLAP_TOKENS = 24
    kb = make_kb("handbook")
    document = load_document(kb, "handbook.html", handbook_html())
    chunks = list(document.chunks.order_by("ordinal"))
    assert any(b.char_start < a.char_end for a, b in pairwise(chunks)), \
        "the test needs overlapping chunks"
    chunk = next(c for c in chunks[1:-1] if "Meal rule 20 " in c.text)
    quote = "Meal rule 20 pays 20 thousand won for lunch number 20."
    reader_of(kb, client)
    page = client.get(f"/sources/{chunk.pk}/", {"quote": quote}).content.decode()
    assert f'<mark id="quote" class="quote">{quote}</mark>' in page
    text = extracted(page)
    shown = [s for sentences in SECTIONS.values() for s in sentences if s in text]
    assert len(shown) > len(re.findall(r"rule \d+ ", chunk.text)), "context beyond the passage"
    for sentence in shown:
        assert text.count(sentence) == 1, sentence
    # Breadcrumbs: knowledge base, document, then the quote's section.
    crumbs = re.search(r'<nav class="source-crumbs".*?</nav>', page, re.S).group(0)
    assert "<li>Handbook</li>" in crumbs and "<li>Meals</li>" in crumbs


def test_hostile_text_in_a_document_is_shown_escaped(client):
    from docx import Document as Docx

    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    word = Docx()
    word.add_heading(f"Rules {hostile}", level=1)
    word.add_paragraph(f"Expense claims are due within thirty days. {hostile} Late claims "
                       "need a manager's approval.")
    buffer = BytesIO()
    word.save(buffer)
    kb = make_kb("expenses")
    document = load_document(kb, f"claims{hostile}.docx", buffer.getvalue())
    chunk = document.chunks.get()
    reader_of(kb, client)
    page = client.get(f"/sources/{chunk.pk}/",
                      {"quote": "Expense claims are due within thirty days."}).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    quote = "Expense claims are due within thirty days."
    assert f'<mark id="quote" class="quote">{quote}</mark>' in page


def test_a_quote_the_passage_does_not_hold_is_not_shown(client, guide):
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    page = client.get(f"/sources/{chunk.pk}/",
                      {"page": 2, "quote": "Call 555-0100 to claim your prize."}).content.decode()
    # The address itself comes back only in the language switcher's return address.
    page = re.sub(r'<input type="hidden" name="next" value="[^"]*">', "", page)
    assert "555-0100" not in page and 'class="quote"' not in page
    assert any(kind == "passage" for kind, *_ in boxes(page))


def test_the_viewer_reads_in_korean(client, guide):
    reader_of(guide.knowledge_base, client)
    chunk = passage_with(guide, "reception desk")
    page = client.get(f"/sources/{chunk.pk}/", {"page": 2, "quote": QUOTE},
                      HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    for english in ("Quoted sentence", "Previous page", "Next page", "Page 2 of 3"):
        assert english not in page
    assert "인용한 문장" in page


def test_a_korean_sentence_wrapped_over_lines_is_boxed_on_each(client):
    from fpdf import FPDF

    font = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
    if not font.exists():
        pytest.skip("Korean font missing: apt-get install fonts-nanum (NanumGothic.ttf)")
    quote = ("자전거 주차장은 지하 2층 사물함 옆에 있으며, 방문객은 안내 데스크에서 출입증을 받은 "
             "뒤 엘리베이터를 타고 내려가면 됩니다.")
    pdf = FPDF(format="A4")
    pdf.add_font("Nanum", "", str(font))
    pdf.set_font("Nanum", size=14)
    pdf.add_page()
    pdf.multi_cell(w=120, h=8, text=f"주차 안내\n{quote}")
    kb = make_kb("building-ko")
    document = load_document(kb, "안내.pdf", bytes(pdf.output()))
    chunk = document.chunks.get()
    reader_of(kb, client)
    page = client.get(f"/sources/{chunk.pk}/", {"page": 1, "quote": quote}).content.decode()
    lines = sorted({y for kind, _, y, _, _ in boxes(page) if kind == "quote"})
    # Every line the sentence wraps onto (8 mm = 22.7 points apart), the heading not.
    assert len(lines) >= 2
    assert all(abs(b - a - 22.7) < 1.5 for a, b in pairwise(lines))
    assert sum(kind == "passage" for kind, *_ in boxes(page)) >= 1


def test_a_quote_cut_by_a_page_break_is_boxed_on_both_pages(client):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.set_y(264)
    crossing = ("The lockers on level B2 are emptied every Friday evening, and anything left "
                "inside them is taken to the reception desk, where it is kept for thirty days "
                "before it is given to charity or thrown away.")
    pdf.multi_cell(w=0, h=7, text=f"Lockers are free for staff. {crossing}")
    assert pdf.page == 2, "the sentence must cross the page break"
    kb = make_kb("lockers")
    document = load_document(kb, "lockers.pdf", bytes(pdf.output()))
    chunk = document.chunks.get()
    reader_of(kb, client)
    for number, lower_half in ((1, True), (2, False)):
        page = client.get(f"/sources/{chunk.pk}/",
                          {"page": number, "quote": crossing}).content.decode()
        quoted = [y for kind, _, y, _, _ in boxes(page) if kind == "quote"]
        assert quoted and all((y > 421) == lower_half for y in quoted), number


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path: Path):
    settings.DATA_DIR = tmp_path


POLICY_MD = """# Expense policy

## Approval

Claims under 500 euros are approved by the line manager.
Larger claims need the finance director's signature.
"""


def test_a_markdown_documents_title_is_shown_once_where_its_passages_are_read(client):
    """The top heading of a Markdown file is its title and the first heading of every
    passage's path; the viewer's breadcrumbs, the search command and a citation's
    preview name it once, then the sections below it."""
    from django.core.management import call_command

    from citewise.chat.services import AskResult, ask
    from frontend.rendering import chip_html

    kb = make_kb("expenses")
    document = load_document(kb, "policy.md", POLICY_MD)
    assert document.title == "Expense policy"
    chunk = passage_with(document, "line manager")
    assert chunk.heading_path[:2] == ["Expense policy", "Approval"]
    quote = "Claims under 500 euros are approved by the line manager."

    reader_of(kb, client)
    page = client.get(f"/sources/{chunk.pk}/", {"quote": quote}).content.decode()
    crumbs = re.search(r'<nav class="source-crumbs".*?</nav>', page, re.S).group(0)
    assert re.findall(r"<li>(.*?)</li>", crumbs) == ["Expenses", "Expense policy", "Approval"]

    out = StringIO()
    call_command("search", "Who approves expense claims?", "--kb", "expenses", stdout=out)
    # The result's title line, then its headings below the title (its text follows).
    title_line, headings_line = out.getvalue().splitlines()[:2]
    assert title_line.startswith("1. Expense policy") and headings_line.strip() == "Approval"

    (result,) = [e for e in ask(SYSTEM, "Who approves claims under 500 euros?",
                                knowledge_bases=[kb]) if isinstance(e, AskResult)]
    cited = result.citations[0]
    chip = chip_html(1, {"title": cited.title, "heading_path": cited.heading_path,
                         "document_type": cited.document_type, "line": cited.line,
                         "snippet": cited.snippet, "url": "/sources/1/"})
    where = re.search(r'<span class="cite-where">(.*?)</span>', chip).group(1)
    assert "Expense policy" in chip and "Expense policy" not in where and "Approval" in where


def test_a_page_number_in_the_passage_is_not_boxed_in_the_chapter_title(tmp_path):
    """A bare page number kept in a passage ("1") is found first in the chapter's title
    ("Chapter 1") at the top of the page: it must not mark the title as cited."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=20)
    pdf.add_page()
    pdf.cell(text="Chapter 1")
    pdf.set_font("Helvetica", size=12)
    pdf.set_y(120)
    pdf.multi_cell(w=0, h=7, text="The canteen opens at noon on working days.")
    pdf.set_y(270)
    pdf.cell(text="1")
    path = tmp_path / "chapter.pdf"
    path.write_bytes(bytes(pdf.output()))

    page = viewer._page_view(path, 1, "The canteen opens at noon on working days.\n\n1", "")
    assert page is not None and page.passage_boxes
    # The sentence, 120 mm (340 points) down; nothing in the title's band at the top.
    assert all(box.y > 300 for box in page.passage_boxes), page.passage_boxes
