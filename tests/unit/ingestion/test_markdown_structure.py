"""Markdown front matter is metadata (the title), never prose; the headings under it
still make the heading path (case 11); a bold line used as a title heads its text
instead of being glued to it."""

from __future__ import annotations

from pathlib import Path

from ingestion.parse import parse_document

CASES = Path(__file__).resolve().parents[2] / "data" / "cases"


def parse(tmp_path: Path, text: str):
    path = tmp_path / "page.md"
    path.write_text(text, encoding="utf-8")
    return parse_document(path, path.name)


def test_yaml_front_matter_is_the_title_and_not_a_passage():
    source = CASES / "11-md-front-matter" / "expenses.md"
    doc = parse_document(source, source.name)
    assert doc.title == "Expense claims"
    text = "\n".join(block.text for block in doc.blocks)
    for metadata in ("owner", "Finance office", "reimbursement", "2025-01-15", "---"):
        assert metadata not in text
    approval = next(b for b in doc.blocks if b.text.startswith("Your line manager approves"))
    assert approval.heading_path == ("Expense claims", "Approval")


def test_toml_front_matter_and_html_comments_are_left_out(tmp_path: Path):
    doc = parse(tmp_path, '+++\ntitle = "온보딩 안내"\ndraft = false\n+++\n\n'
                          "<!-- TODO: check with HR -->\n## 첫날\n\n"
                          "사원증은 1층 안내데스크에서 받습니다.\n")
    assert doc.title == "온보딩 안내"
    assert [(b.kind, b.text, b.heading_path) for b in doc.blocks] == [
        ("heading", "첫날", ("첫날",)),
        ("paragraph", "사원증은 1층 안내데스크에서 받습니다.", ("첫날",))]


def test_a_thematic_break_at_the_top_is_not_front_matter(tmp_path: Path):
    doc = parse(tmp_path, "---\nThis note opens with a rule, then prose.\n---\n\nMore text.\n")
    text = [block.text for block in doc.blocks]
    assert "More text." in text
    assert any("This note opens with a rule" in t for t in text)


def test_a_bold_line_heads_the_text_below_it(tmp_path: Path):
    question = "Q. 비밀번호는 어떻게 바꾸나요?"
    doc = parse(tmp_path, f"# 자주 묻는 질문\n\n**{question}**\n"
                          "셀프서비스 포털에서 바꿀 수 있습니다.\n\n"
                          "This is **bold** inside text.\n\n## Other\n\nText.\n")
    under_question = ("자주 묻는 질문", question)
    assert [(b.kind, b.text, b.heading_path) for b in doc.blocks] == [
        ("heading", "자주 묻는 질문", ("자주 묻는 질문",)),
        ("heading", question, under_question),
        ("paragraph", "셀프서비스 포털에서 바꿀 수 있습니다.", under_question),
        ("paragraph", "This is bold inside text.", under_question),
        ("heading", "Other", ("자주 묻는 질문", "Other")),
        ("paragraph", "Text.", ("자주 묻는 질문", "Other"))]


def test_an_ordered_list_keeps_its_numbers_and_a_bullet_list_does_not(tmp_path: Path):
    """A reader sees "2." and the text says "repeat step 2": the number stays."""
    doc = parse(tmp_path, "# Rebuild\n\n1. Stop the worker.\n2. Run the command\n"
                          "   with care.\n\n- A bullet.\n\nIf it fails, repeat step 2.\n")
    texts = [block.text for block in doc.blocks]
    assert "1. Stop the worker." in texts and "2. Run the command with care." in texts
    assert "A bullet." in texts


def test_a_table_header_the_markdown_marks_is_the_header_even_with_blank_labels(tmp_path: Path):
    """docs/api.md's "| Field | | |": guessed, the header was the first record's values
    and every other row read "`file`: `knowledge_base`; required: required; ..."."""
    doc = parse(tmp_path, "## Upload\n\n| Field | | |\n|---|---|---|\n"
                          "| `file` | required | PDF or Word; at most 100 MB |\n"
                          "| `knowledge_base` | required | the knowledge base's slug |\n"
                          "| 2024 | 2025 | 2026 |\n")
    rows = [b.text for b in doc.blocks if b.kind == "table_row"]
    assert rows == ["Field: file; required; PDF or Word; at most 100 MB",
                    "Field: knowledge_base; required; the knowledge base's slug",
                    "Field: 2024; 2025; 2026"]
    assert [b.text for b in doc.blocks if b.kind == "table_header"] == ["Field"]
