"""Each format parsed from a real file built in tmp_path, with Korean content."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingestion.parse import parse_document
from tests.unit.ingestion.conftest import make_pdf


def texts(doc, kind=None):
    return [b.text for b in doc.blocks if kind is None or b.kind == kind]


def test_docx_headings_lists_tables_and_korean(tmp_path: Path):
    import docx

    document = docx.Document()
    document.core_properties.title = "운영 안내서"
    document.add_heading("설치", level=1)
    document.add_paragraph("서버에 설치합니다. 관리자 권한이 필요합니다.")
    document.add_heading("요구 사항", level=2)
    document.add_paragraph("Python 3.11", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, values in zip(table.rows, [("항목", "값"), ("메모리", "16GB"), ("디스크", "100GB")],
                           strict=True):
        row.cells[0].text, row.cells[1].text = values
    document.add_heading("Usage", level=1)
    document.add_paragraph("Open the web chat.")
    path = tmp_path / "guide.docx"
    document.save(str(path))

    doc = parse_document(path, "guide.docx")
    assert doc.detected_type == "docx"
    assert doc.title == "운영 안내서"
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["설치"].kind == "heading"
    assert by_text["서버에 설치합니다. 관리자 권한이 필요합니다."].heading_path == ("설치",)
    assert by_text["Python 3.11"].kind == "list"
    assert by_text["Python 3.11"].heading_path == ("설치", "요구 사항")
    assert by_text["항목 | 값"].kind == "table_header"
    assert by_text["항목: 메모리; 값: 16GB"].kind == "table_row"
    assert by_text["항목: 디스크; 값: 100GB"].heading_path == ("설치", "요구 사항")
    assert by_text["Open the web chat."].heading_path == ("Usage",)


def test_pptx_slide_titles_pages_and_tables(tmp_path: Path):
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "분기 실적"
    body = slide.placeholders[1].text_frame
    body.text = "매출이 증가했습니다."
    sub = body.add_paragraph()
    sub.text = "Revenue grew 12%."
    sub.level = 1
    slide.notes_slide.notes_text_frame.text = "발표자 메모입니다."
    slide2 = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide2.shapes.title.text = "Targets"
    shape = slide2.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1))
    for (r, c), value in {(0, 0): "Region", (0, 1): "Goal", (1, 0): "서울", (1, 1): "120"}.items():
        shape.table.cell(r, c).text = value
    path = tmp_path / "deck.pptx"
    presentation.save(str(path))

    doc = parse_document(path, "deck.pptx")
    assert doc.detected_type == "pptx"
    assert doc.page_count == 2
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["분기 실적"].kind == "heading"
    assert by_text["매출이 증가했습니다."].page == 1
    assert by_text["매출이 증가했습니다."].heading_path == ("분기 실적",)
    assert by_text["Revenue grew 12%."].kind == "list"
    assert by_text["발표자 메모입니다."].page == 1
    assert by_text["Region: 서울; Goal: 120"].page == 2
    assert by_text["Region: 서울; Goal: 120"].heading_path == ("Targets",)


def test_xlsx_rows_as_records_under_sheet_name(tmp_path: Path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "직원"
    sheet.append(["이름", "부서", "입사일", "점수"])
    sheet.append(["김철수", "영업", dt.datetime(2024, 3, 1), 91.0])
    sheet.append([None, None, None, None])
    sheet.append(["Lee", "R&D", None, 88.5])
    second = workbook.create_sheet("Summary")
    second.append(["Total", "2"])
    second.append(["Note", "ok"])
    path = tmp_path / "people.xlsx"
    workbook.save(str(path))

    doc = parse_document(path, "people.xlsx")
    assert doc.detected_type == "xlsx"
    rows = texts(doc, "table_row")
    assert "이름: 김철수; 부서: 영업; 입사일: 2024-03-01; 점수: 91" in rows
    assert "이름: Lee; 부서: R&D; 점수: 88.5" in rows
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["직원", "Summary"]
    assert all(b.heading_path == ("Summary",) for b in doc.blocks if "Note" in b.text)


def test_csv_cp949_rows(tmp_path: Path):
    path = tmp_path / "prices.csv"
    path.write_bytes("품목,가격\n사과,1000\n배,2000\n".encode("cp949"))
    doc = parse_document(path, "prices.csv")
    assert doc.detected_type == "csv"
    assert texts(doc) == ["품목 | 가격", "품목: 사과; 가격: 1000", "품목: 배; 가격: 2000"]


def test_html_main_content_only(tmp_path: Path):
    html = """<!DOCTYPE html><html><head><title>도움말</title><style>p{}</style>
    <script>var x = "tracking";</script></head><body>
    <header><a href="/">Home</a> | <a href="/about">About</a></header>
    <nav><ul><li>Menu item</li></ul></nav>
    <div class="cookie-banner">We use cookies.</div>
    <main><h1>시작하기</h1><p>계정을 <b>만드세요</b>. Then log in.</p>
      <h2>Details</h2><ul><li>First step</li></ul><pre>make run</pre>
      <table><tr><th>Key</th><th>Value</th></tr><tr><td>port</td><td>8000</td></tr></table>
    </main><aside>Related posts</aside><footer>Copyright 2025</footer></body></html>"""
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    doc = parse_document(path, "page.html")
    assert doc.detected_type == "html"
    assert doc.title == "도움말"
    all_text = " ".join(texts(doc))
    for boilerplate in ("Home", "Menu item", "cookies", "Related", "Copyright", "tracking"):
        assert boilerplate not in all_text
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["계정을 만드세요. Then log in."].heading_path == ("시작하기",)
    assert by_text["First step"].kind == "list"
    assert by_text["First step"].heading_path == ("시작하기", "Details")
    assert by_text["make run"].kind == "code"
    assert "Key: port; Value: 8000" in by_text


def test_html_sphinx_headings_keep_their_text(tmp_path: Path):
    """Sphinx wraps heading text in <a class="toc-backref"> and ends it with a "¶"
    permalink: the heading path must read like the page, not "¶ > ¶"."""
    html = """<html><body><div class="body" role="main">
    <nav class="contents" id="contents"><p>Contents</p><ul><li><a href="#a">A?</a></li></ul>
    </nav><section id="faq"><h1><a class="toc-backref" href="#id1" role="doc-backlink">Library
    FAQ</a><a class="headerlink" href="#faq" title="Permalink">¶</a></h1>
    <section id="a"><h2><a class="toc-backref" href="#id2">How do I read a file?</a>
    <a class="headerlink" href="#a">¶</a></h2><p>Use open().</p></section>
    <section id="b"><h2>Section sign § in text<a class="headerlink" href="#b">#</a></h2>
    <p>Kept.</p></section></section></div></body></html>"""
    path = tmp_path / "library.html"
    path.write_text(html, encoding="utf-8")
    doc = parse_document(path, "library.html")
    assert [b.text for b in doc.blocks if b.kind == "heading"] == [
        "Library FAQ", "How do I read a file?", "Section sign § in text"]
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["Use open()."].heading_path == ("Library FAQ", "How do I read a file?")
    assert "A?" not in " ".join(texts(doc))  # the page's table of contents stays out


def test_markdown_headings_code_and_lists(tmp_path: Path):
    md = "# 사용자 안내\n\n소개 문단입니다.\n\n## Install\n\n- step **one**\n- step two\n\n" \
         "```bash\npip install citewise\n```\n\n| A | B |\n|---|---|\n| 1 | 2 |\n"
    path = tmp_path / "guide.md"
    path.write_text(md, encoding="utf-8")
    doc = parse_document(path, "guide.md")
    assert doc.detected_type == "markdown"
    assert doc.title == "사용자 안내"
    kinds = [(b.kind, b.text, b.heading_path) for b in doc.blocks]
    assert ("paragraph", "소개 문단입니다.", ("사용자 안내",)) in kinds
    assert ("list", "step one", ("사용자 안내", "Install")) in kinds
    assert ("code", "pip install citewise", ("사용자 안내", "Install")) in kinds
    assert ("paragraph", "A: 1; B: 2", ("사용자 안내", "Install")) in kinds
    assert "A | B" not in texts(doc)  # a one-record table says its labels once


def test_plain_text_utf16_and_euc_kr(tmp_path: Path):
    text = "첫 문단입니다.\n줄이 이어집니다.\n\n둘째 문단."
    for encoding in ("utf-16", "euc-kr"):
        path = tmp_path / f"notes-{encoding}.txt"
        path.write_bytes(text.encode(encoding))
        doc = parse_document(path, path.name)
        assert doc.detected_type == "text"
        assert texts(doc) == ["첫 문단입니다. 줄이 이어집니다.", "둘째 문단."]


def test_pdf_pages_and_font_size_headings(tmp_path: Path, korean_font: Path):
    path = make_pdf(tmp_path / "manual.pdf", [
        [(20, "Introduction"), (11, "Citewise answers questions. 한국어도 지원합니다.")],
        [(16, "설치 방법"), (11, "Run the installer on page two.")],
    ], font=korean_font)
    doc = parse_document(path, "manual.pdf")
    assert doc.detected_type == "pdf"
    assert doc.page_count == 2
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["Introduction"].kind == "heading"
    body = by_text["Citewise answers questions. 한국어도 지원합니다."]
    assert (body.page, body.heading_path) == (1, ("Introduction",))
    second = by_text["Run the installer on page two."]
    assert (second.page, second.heading_path) == (2, ("Introduction", "설치 방법"))


def test_pdf_headings_from_outline(tmp_path: Path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for title, body in (("Overview", "General text."), ("Security", "Keys rotate daily.")):
        pdf.add_page()
        pdf.start_section(title)
        pdf.multi_cell(w=0, h=6, text=title, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(w=0, h=6, text=body, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "outlined.pdf"
    pdf.output(str(path))
    doc = parse_document(path, "outlined.pdf")
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["Security"].kind == "heading"
    assert by_text["Keys rotate daily."].heading_path == ("Security",)
    assert by_text["Keys rotate daily."].page == 2
