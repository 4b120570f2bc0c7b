"""Generated and saved pages through ingestion, search and ask: what a person gets back
is the page's content, said once, under its headings (issue 10, cases 11 and 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citewise.chat.services import AskResult, ask
from citewise.knowledge.models import Chunk
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.search import search
from tests.factories import load_document, make_kb
from tests.unit.ingestion.test_html_extraction import DOCBOOK

pytestmark = pytest.mark.django_db(transaction=True)

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"


def answer(kb, question: str) -> AskResult:
    (result,) = [e for e in ask(SYSTEM, question, knowledge_bases=[kb])
                 if isinstance(e, AskResult)]
    return result


def test_a_search_result_says_the_title_once_and_carries_no_navigation():
    """DocBook repeats the chapter title in its navheader and names the neighbour
    chapters in its navfooter: none of that may reach a passage."""
    kb = make_kb("reference")
    load_document(kb, "ch11.html", DOCBOOK.encode())
    top = search(SYSTEM, "Which tool converts the encoding of text?", knowledge_bases=[kb])[0]
    texts = [chunk.text for chunk in Chunk.objects.filter(knowledge_base=kb)]
    assert "iconv converts the encoding of text" in top.text
    assert top.heading_path[0] == "Chapter 11. Data conversion"
    assert sum(text.count("Chapter 11. Data conversion") for text in texts) == 1
    for navigation in ("Prev", "Next", "Home", "Chapter 12. Programming", "Table of Contents"):
        assert all(navigation not in text for text in texts)


@pytest.mark.parametrize(("question", "expected", "section", "other_section"), [
    ("What discount do employees get on company shares?", "15 percent", "Employee share plan",
     "meal allowance"),
    ("How much is the commuting allowance?", "40 euros", "Related allowances",
     "meal allowance"),
])
def test_sections_named_share_or_related_answer(question: str, expected: str, section: str,
                                                other_section: str):
    kb = make_kb("benefits")
    load_document(kb, "benefits.html",
                  (CASES / "16-html-section-id-boilerplate" / "benefits.html").read_bytes())
    result = answer(kb, question)
    assert not result.not_found and expected in result.answer
    # The chunk joins small sections; the quote keeps to the answering one.
    assert other_section not in result.answer
    cited = Chunk.objects.get(pk=result.citations[0].chunk_id)
    # The page's small sections share one chunk, under the heading they have in common.
    assert cited.heading_path[0] == "Employee benefits" and section in cited.text
    assert result.citations[0].heading_path[-1] == section


def test_markdown_front_matter_is_not_prose_and_the_answer_cites_its_section():
    kb = make_kb("expenses")
    load_document(kb, "expenses.md", (CASES / "11-md-front-matter" / "expenses.md").read_bytes())
    result = answer(kb, "Who approves expense claims under 500 euros?")
    assert not result.not_found and "line manager" in result.answer
    cited = Chunk.objects.get(pk=result.citations[0].chunk_id)
    # Was empty: the front matter paragraph had no heading, so the merged chunk's common
    # path was nothing. (Its sections are small and share one chunk.)
    assert cited.heading_path[0] == "Expense claims" and "Approval" in cited.text
    # The citation names the quoted sentence's own section (the README's right result).
    assert result.citations[0].heading_path == ["Expense claims", "Approval"]
    assert all("Finance office" not in c.text for c in Chunk.objects.filter(knowledge_base=kb))
