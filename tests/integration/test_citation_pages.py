"""Citations name the page (slide, sheet) of the sentence they quote, not the page their
passage starts on (issue 10, case 10-pdf-blank-page-citation and "Must work" 2)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from citewise.chat.models import Citation
from citewise.chat.services import AskResult, ask
from citewise.knowledge.models import Document
from citewise.knowledge.permissions import SYSTEM
from tests.factories import load_document, make_kb, make_user

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
    assert '<span class="cited-page">3</span>' in page
    assert f"/documents/{Document.objects.get().pk}/original#page=3" in page


def test_a_citation_in_a_passage_over_several_slides_names_the_quoted_slide(tmp_path):
    from pptx import Presentation

    presentation = Presentation()
    for title, line in (("Welcome", "The kickoff starts at nine in the main hall."),
                        ("Lunch", "Lunch is served in the atrium at noon."),
                        ("Parking", "Visitors park their cars on level B1.")):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = line
    deck = tmp_path / "offsite.pptx"
    presentation.save(str(deck))
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
