"""The shared Office and CSV cases (tests/data/cases) end to end: the file is uploaded
as a user uploads it (stored without its extension), ingested, and the issue's question
is asked through the ask service. The right value must be in the answer, the wrong one
(or the hidden text) must not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from citewise.chat.services import AskResult, ask
from citewise.knowledge.models import Chunk, DocumentStatus
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.search import search
from citewise.knowledge.services import add_document
from tests.factories import make_kb

pytestmark = pytest.mark.django_db(transaction=True)

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"


def ingested(case: str, slug: str):
    """A fresh knowledge base holding the case's one file, ingested."""
    (path,) = (p for p in (CASES / case).iterdir() if p.is_file())
    return ingested_file(path, slug)


def ingested_file(path: Path, slug: str):
    """A fresh knowledge base holding `path`, uploaded and ingested as a user's file."""
    kb = make_kb(slug)
    with path.open("rb") as handle:
        document = add_document(SYSTEM, kb, handle, original_name=path.name,
                                enqueue=False).document
    ingest(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.INDEXED, document.error
    return kb


def answer(kb, question: str) -> AskResult:
    (result,) = [e for e in ask(SYSTEM, question, knowledge_bases=[kb])
                 if isinstance(e, AskResult)]
    assert not result.not_found, result.answer
    assert result.citations and result.citations[0].supported
    return result


def test_semicolon_csv_rows_answer_under_their_headers():
    kb = ingested("01-csv-bom-semicolon", "offices")
    (first, *_) = search(SYSTEM, "Which office is closed on public holidays?",
                         knowledge_bases=[kb])
    assert ("Office: Harbor Street; Opening hours: 08:00-16:00; "
            "Notes: Closed on public holidays. Parking at rear entrance.") in first.text
    result = answer(kb, "What are the opening hours of the Mill Road office?")
    assert "09:30-18:00" in result.answer


def test_a_release_in_a_content_control_cell_answers_with_its_own_date():
    kb = ingested("04-docx-sdt-table-cell", "releases")
    result = answer(kb, "When was version 2.2 released?")
    assert "Date: 2024-06-17; Version: 2.2" in result.answer
    # Neighbouring rows may be quoted as context, but each under its own headers: no
    # quoted row may give 2.2 another row's date or 2.1's date to anything else.
    for row in re.findall(r"Date: [^;]*; Version: [^;]*", result.answer):
        assert row in ("Date: 2024-06-17; Version: 2.2", "Date: 2024-03-04; Version: 2.1")


@pytest.mark.parametrize(("case", "question", "right", "wrong"), [
    # Text inside a text box answers; it was dropped.
    ("05-docx-textbox", "Where must visitor badges be returned?",
     "security office on floor 7", None),
    # An uploaded .xlsx is indexed (it failed as "damaged"), merged cells fill every row.
    ("07-xlsx-merged-cells", "Which category is the headset in?",
     "Category: Audio; Item: Headset", None),
    # Hidden Word text is neither quoted nor indexed.
    ("13-docx-hidden-text-injection", "Do passwords expire?",
     "Passwords expire every 90 days", "helpdesk-verify"),
])
def test_the_cases_question_is_answered_with_the_visible_value(case, question, right, wrong):
    kb = ingested(case, case[:2])
    result = answer(kb, question)
    assert right in result.answer
    if wrong is not None:
        assert wrong not in result.answer
        assert not Chunk.objects.filter(knowledge_base=kb, text__contains=wrong).exists()


def test_a_word_heading_2_section_is_cited_under_both_headings(tmp_path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    # Company templates restyle headings as their own styles based on the built-in ones.
    house = document.styles.add_style("House Heading 2", WD_STYLE_TYPE.PARAGRAPH)
    house.base_style = document.styles["Heading 2"]
    document.add_heading("Travel", level=1)
    document.add_heading("Flights", level=2)
    for n in range(1, 6):
        document.add_paragraph(f"Flight rule {n}: economy class is booked for trips under "
                               f"{n + 5} hours, and the travel desk confirms the seat.")
    document.add_paragraph("Hotels", style="House Heading 2")
    document.add_paragraph("Hotel rooms are booked up to 150 euros per night in Seoul.")
    for n in range(1, 5):
        document.add_paragraph(f"Hotel rule {n}: the booking is made through the portal and "
                               f"approved by the line manager within {n} days.")
    path = tmp_path / "travel.docx"
    document.save(str(path))
    kb = ingested_file(path, "travel")

    result = answer(kb, "How much may a hotel room cost per night?")
    assert "150 euros per night" in result.answer
    assert result.citations[0].heading_path == ["Travel", "Hotels"]


def test_a_small_sheet_reads_as_its_labels_and_values_and_cites_its_row(tmp_path):
    """A "Summary" sheet of one label row and one values row, a sheet of label/value
    pairs and a sheet whose first row is a title: each value is read beside its own
    label, once, and the citation names the value's row."""
    import openpyxl

    workbook = openpyxl.Workbook()
    summary = workbook.active
    summary.title = "Summary"
    summary.append(["Total revenue", "Headcount", "Offices"])
    summary.append([1_200_000, 42, 3])
    terms = workbook.create_sheet("Terms")
    terms.append(["Annual leave days", 25])
    terms.append(["Notice period in weeks", 4])
    budget = workbook.create_sheet("Budget")
    budget.append(["Travel budget 2025"])
    budget.append(["Conference travel", "8,000 euros"])
    path = tmp_path / "figures.xlsx"
    workbook.save(str(path))
    kb = ingested_file(path, "figures")

    texts = " ".join(Chunk.objects.filter(knowledge_base=kb).values_list("text", flat=True))
    assert "Total revenue: 1200000; Headcount: 42; Offices: 3" in texts
    assert "Total revenue | Headcount" not in texts  # the labels are said once, in the record
    assert "Annual leave days: 25" in texts and "Notice period in weeks: 4" in texts
    assert "Annual leave days: Notice" not in texts  # the first pair is not a header
    assert "Conference travel: 8,000 euros" in texts

    for question, right, sheet, row in [
        ("What is the headcount?", "Headcount: 42", "Summary", 2),
        ("How many annual leave days are there?", "Annual leave days: 25", "Terms", 1),
        ("What is the conference travel budget?", "Conference travel: 8,000 euros", "Budget", 2),
    ]:
        result = answer(kb, question)
        assert right in result.answer, question
        assert "|" not in result.answer, question
        cited = result.citations[0]
        assert (cited.heading_path[0], cited.line) == (sheet, row), question
