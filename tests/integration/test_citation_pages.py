"""Citations name the page (slide, sheet) of the sentence they quote, not the page their
passage starts on (issue 10, case 10-pdf-blank-page-citation and "Must work" 2)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from citewise.chat.models import Citation
from citewise.chat.services import AskResult, ask, source_path
from citewise.knowledge.models import Document
from citewise.knowledge.permissions import SYSTEM
from tests.factories import load_document, make_kb, make_user
from tests.unit.ingestion.conftest import make_deck

pytestmark = pytest.mark.django_db(transaction=True)

CASE = Path(__file__).parents[1] / "data" / "cases" / "10-pdf-blank-page-citation"


def answer(question: str) -> AskResult:
    (result,) = [event for event in ask(SYSTEM, question) if isinstance(event, AskResult)]
    return result


@pytest.fixture
def building_guide():
    kb = make_kb("building")
    load_document(kb, "building-guide.pdf", (CASE / "building-guide.pdf").read_bytes())
    return kb


@pytest.mark.parametrize(("question", "words", "page"), [
    ("Where is the bicycle parking?", "basement, level B2", 3),
    ("How long is lost property kept?", "thirty days", 4),
])
def test_a_pdf_citation_names_the_page_of_the_quoted_sentence(building_guide, question,
                                                              words, page):
    result = answer(question)
    assert words in result.answer and result.grounded
    (cited,) = result.citations
    assert words in cited.snippet and cited.page == page
    assert cited.url.startswith(f"/sources/{cited.chunk_id}/?page={page}&quote=")
    assert cited.url.endswith("#cited")
    assert Citation.objects.get(message_id=result.message_id).page == page


def test_ask_json_and_the_source_viewer_show_the_cited_page(building_guide, client):
    out = StringIO()
    call_command("ask", "Where is the bicycle parking?", "--kb", "building", "--json",
                 stdout=out)
    (cited,) = json.loads(out.getvalue())["citations"]
    assert cited["page"] == 3
    reader = make_user("kim")
    building_guide.reader_users.add(reader)
    client.force_login(reader)
    page = client.get(f"/sources/{cited['chunk_id']}/", {"page": 3}).content.decode()
    assert '<span class="cited-place">page 3</span>' in page
    assert f"/documents/{Document.objects.get().pk}/original#page=3" in page


def test_a_citation_in_a_passage_over_several_slides_names_the_quoted_slide(tmp_path):
    deck = make_deck(tmp_path / "offsite.pptx", [
        ("Welcome", "The kickoff starts at nine in the main hall."),
        ("Lunch", "Lunch is served in the atrium at noon."),
        ("Parking", "Visitors park their cars on level B1.")])
    load_document(make_kb("offsite"), "offsite.pptx", deck.read_bytes())
    result = answer("Where do visitors park their cars?")
    (cited,) = result.citations
    assert "level B1" in cited.snippet
    assert (cited.page, cited.heading_path) == (3, ["Parking"])


class ParaphrasingLLM:
    """Stands in for the LLM (the tiny vLLM test model writes random text): one claim in
    its own words, citing the passage that spans pages 1 to 4. Everything else is real."""

    name = "vllm"

    def stream(self, request):
        from inference.backends.base import Delta, Done, Usage

        yield Delta("Lost property stays at the reception desk for a month [1].")
        yield Done(Usage(10, 10))


def test_an_llm_claim_cites_the_page_of_its_best_supporting_sentence(building_guide, settings,
                                                                     monkeypatch):
    from citewise.chat import services

    settings.ANSWER_BACKEND = "vllm"
    monkeypatch.setattr(services, "vllm_backend", lambda: ParaphrasingLLM())
    result = answer("How long is lost property kept?")
    (cited,) = result.citations
    assert "Lost property" in cited.snippet
    assert cited.page == 4


def test_a_korean_pdf_citation_names_the_page_of_the_quoted_sentence(tmp_path):
    from fpdf import FPDF

    font = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
    if not font.exists():
        pytest.skip("Korean font missing: apt-get install fonts-nanum (NanumGothic.ttf)")
    pdf = FPDF()
    pdf.add_font("Nanum", "", str(font))
    pdf.set_font("Nanum", size=11)
    for lines in (["식당 안내", "식당은 평일 오전 7시 30분부터 아침 식사를 제공합니다."], [],
                  ["주차 안내", "자전거 주차장은 지하 2층 사물함 옆에 있습니다."]):
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(w=0, h=6, text=line, new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "건물안내.pdf"
    pdf.output(str(path))
    load_document(make_kb("building-ko"), "건물안내.pdf", path.read_bytes())
    result = answer("자전거 주차장은 어디에 있나요?")
    (cited,) = result.citations
    assert "지하 2층" in cited.snippet and cited.page == 3
    assert not cited.snippet.startswith("주차 안내")


# --- Rows and lines: spreadsheets, CSV, Markdown -----------------------------------------

def canteen_workbook(path: Path) -> Path:
    """Two sheets; the answer is on row 12 of the second, below a title row, a gap and the
    header, as Excel numbers it."""
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Summary"
    workbook.active.append(["Owner", "Facilities team"])
    workbook.active.append(["Reviewed", "March"])
    prices = workbook.create_sheet("Prices")
    prices["A1"] = "Canteen price list"
    prices.append([])
    prices.append(["Dish", "Price", "Served"])
    for number, dish in enumerate(("Kimchi stew", "Cold noodles", "Pork cutlet", "Curry rice",
                                   "Fish cake soup", "Fried rice", "Dumplings", "Tofu stew"),
                                  start=4):
        prices.append([dish, f"{5000 + number * 100} won", "Weekdays"])
    prices.append(["Bibimbap bowl", "7,500 won", "Fridays only"])  # row 12
    workbook.save(str(path))
    return path


ERRORS_CSV = "\r\n".join(
    ["Code;Meaning"]
    + [f"P{n};Printer fault number {n}: call the helpdesk" for n in range(2, 40)]
    + ["P40;The toner cartridge is empty: take a new one from the supply cabinet"])

GUIDE_MD = """---
title: Office guide
---
# Office guide

## Arriving

The office opens at eight. Visitors sign in at the
front desk and wear a badge. Parking permits for
visitors are issued by the facilities team on the
second floor.

## Leaving

The last person out switches off the lights.
"""


@pytest.fixture
def office(tmp_path):
    """One knowledge base holding a workbook, a CSV and a Markdown guide."""
    kb = make_kb("office")
    load_document(kb, "canteen.xlsx", canteen_workbook(tmp_path / "canteen.xlsx").read_bytes())
    load_document(kb, "printer-errors.csv", ERRORS_CSV)
    load_document(kb, "office-guide.md", GUIDE_MD)
    assert GUIDE_MD.splitlines()[9 - 1].startswith("front desk and wear a badge. Parking")
    assert ERRORS_CSV.split("\r\n")[40 - 1].startswith("P40;")
    return kb


ROWS_AND_LINES = [
    ("How much is the bibimbap bowl?", "Bibimbap bowl", "xlsx", 12, ["Prices"],
     "Prices, row 12"),
    ("What do I do when the toner cartridge is empty?", "toner cartridge is empty", "csv",
     40, [], "line 40"),
    ("Who issues parking permits for visitors?", "Parking permits", "markdown", 9,
     ["Office guide", "Arriving"], "line 9"),
]


def cited_for(result: AskResult, words: str):
    (cited,) = [c for c in result.citations if words in c.snippet]
    return cited


@pytest.mark.parametrize(("question", "words", "kind", "line", "heading_path", "place"),
                         ROWS_AND_LINES)
def test_a_citation_names_the_row_or_line_of_the_quoted_sentence(office, question, words,
                                                                kind, line, heading_path,
                                                                place):
    result = answer(question)
    cited = cited_for(result, words)
    assert (cited.line, cited.page, cited.heading_path) == (line, None, heading_path)
    assert cited.document_type == kind
    stored = Citation.objects.get(message_id=result.message_id, n=cited.n)
    assert (stored.line, stored.document_type) == (line, kind)


def test_the_rest_answer_and_its_conversation_name_the_row_and_line(office):
    from tests.integration.api_support import ApiClient, new_key

    owner = make_user("helpdesk-owner")
    office.reader_users.add(owner)
    bot = ApiClient(new_key(owner, [office]))
    for question, words, _, line, heading_path, place in ROWS_AND_LINES:
        body = json.loads(bot.post("/api/v1/ask", {"question": question}).content)
        (cited,) = [c for c in body["citations"] if words in c["snippet"]]
        assert (cited["line"], cited["location"], cited["heading_path"]) == (
            line, place, heading_path)
        assert "document_type" not in cited
        stored = json.loads(bot.get(
            f"/api/v1/conversations/{body['conversation_id']}").content)
        (shown,) = [c for m in stored["messages"] for c in m["citations"]
                    if words in c["snippet"]]
        assert (shown["line"], shown["location"]) == (line, place)
    korean = ApiClient(new_key(owner, [office]), **{"Accept-Language": "ko"})
    body = json.loads(korean.post("/api/v1/ask", {"question": ROWS_AND_LINES[0][0]}).content)
    assert cited_location(body, "Bibimbap") == "Prices 시트 12행"
    body = json.loads(korean.post("/api/v1/ask", {"question": ROWS_AND_LINES[1][0]}).content)
    assert cited_location(body, "toner") == "40번째 줄"


def cited_location(body: dict, words: str) -> str:
    (cited,) = [c for c in body["citations"] if words in c["snippet"]]
    return cited["location"]


def test_the_chat_and_the_source_viewer_show_the_row(office, client):
    from citewise.chat.services import ask as ask_as

    reader = make_user("kim")
    office.reader_users.add(reader)
    events = list(ask_as(reader, "How much is the bibimbap bowl?"))
    (result,) = [event for event in events if isinstance(event, AskResult)]
    client.force_login(reader)
    page = client.get(f"/chat/c/{result.conversation_id}/").content.decode()
    assert '<span class="source-place">Prices, row 12</span>' in page
    assert '<span class="cite-where">Prices, row 12</span>' in page  # not "Prices" again
    assert 'data-location="Prices, row 12"' in page
    cited = cited_for(result, "Bibimbap")
    viewer = client.get(cited.url).content.decode()
    assert '<span class="cited-place">Prices, row 12</span>' in viewer
    assert '<mark id="quote" class="quote">Dish: Bibimbap bowl; Price: 7,500 won' in viewer
    korean = client.get(f"/chat/c/{result.conversation_id}/",
                        HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '<span class="source-place">Prices 시트 12행</span>' in korean


def test_a_slide_is_called_a_slide_where_a_person_reads_it(tmp_path, client):
    deck = make_deck(tmp_path / "offsite.pptx", [
        ("Welcome", "The kickoff starts at nine in the main hall."),
        ("Parking", "Visitors park their cars on level B1.")])
    kb = make_kb("offsite")
    load_document(kb, "offsite.pptx", deck.read_bytes())
    reader = make_user("kim")
    kb.reader_users.add(reader)
    (result,) = [e for e in ask(reader, "Where do visitors park their cars?")
                 if isinstance(e, AskResult)]
    client.force_login(reader)
    page = client.get(f"/chat/c/{result.conversation_id}/").content.decode()
    assert '<span class="source-place">slide 2</span>' in page and "page 2" not in page
    viewer = client.get(result.citations[0].url).content.decode()
    assert '<span class="cited-place">slide 2</span>' in viewer


def test_the_api_schema_documents_the_line_and_location_of_a_citation(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    citation = schema["components"]["schemas"]["CitationOut"]["properties"]
    assert "spreadsheet" in citation["line"]["description"]
    assert citation["line"]["nullable"] is True
    assert "row 12" in citation["location"]["description"]


def test_citations_stored_before_lines_learn_their_documents_type(tmp_path):
    """The migration that added Citation.line and document_type fills document_type for
    the citations already stored (so an old slide citation is called a slide)."""
    from importlib import import_module

    from django.apps import apps

    deck = make_deck(tmp_path / "offsite.pptx", [("Parking", "Visitors park on level B1.")])
    load_document(make_kb("offsite"), "offsite.pptx", deck.read_bytes())
    result = answer("Where do visitors park?")
    Citation.objects.update(document_type="")
    migration = import_module("citewise.chat.migrations.0008_citation_line_document_type")
    migration.copy_document_types(apps, None)
    stored = Citation.objects.get(message_id=result.message_id)
    assert (stored.document_type, stored.page, stored.line) == ("pptx", 1, None)


def test_a_citation_link_is_the_path_the_project_serves_the_viewer_at():
    """source_path reverses in the pages' own URLconf (a cold start need not load the
    API's); it must still be where the project mounts the viewer."""
    assert source_path(42) == reverse("frontend:source", args=[42])
