"""Quality gates on real documents: Debian documentation, English and Korean (issue 10).

The same measurement as benchmarks/debian_docs.py: each language's corpus is built from
Debian packages (cached outside the repository, keyed by package version), ingested with
`manage.py ingest FOLDER --kb SLUG --create` and nothing else, then searched and asked
through the services with headings, hand-written paraphrased and misspelled questions
(tests/eval/data/debian-docs-{en,ko}.jsonl) and unanswerable ones. One knowledge base per
language serves every gate. Without apt or a Debian mirror the tests skip, except in CI
(CI=true), where they fail.

The issue's targets, per language (benchmarks/debian_docs.py GATES, which prints pass or
FAIL against them): Recall@1 >= 0.85 and Recall@5 >= 0.97 with headings as questions,
Recall@5 >= 0.90 on paraphrased questions, citation precision >= 0.95, refusal of
unanswerable questions >= 0.9, and the answer step losing the passage search ranked first
for under 2% of questions. Not all are met yet (benchmarks/RESULTS.md, "Real documents"),
so these tests hold FLOORS: today's measurement less about one question's worth, so that
any regression fails CI. Raise a floor whenever the engine improves; the goal is the target.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

import pytest

from tests.helpers import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
debian_docs = importlib.import_module("debian_docs")
corpus = importlib.import_module("debian_docs_corpus")

LANGUAGES = ["en", "ko"]

# Measured on main 4ec1b47 (benchmarks/RESULTS.md), less about one question each; the
# answer floors and ceilings on h-agates (en 0.875 / 0.75 / 0.163, ko 0.784 / 0.90 / 0.212);
# en paraphrase Recall@5 (0.917) and ko citation precision (0.838, 31/37) once the PDF's
# words are read apart and LibreOffice help's OS switch keeps its default case; headings
# with the heading list on (en 0.917 / 1.000, ko 0.883 / 0.967); headings Recall@1 once
# each candidate's heading vote is scaled by its own match (en 0.983, ko 0.950), and ko
# headings once a heading a browser hides is not asked (0.967 / 0.983).
FLOORS = {
    "en": {"headings Recall@1": 0.96, "headings Recall@5": 0.98, "paraphrase Recall@5": 0.89,
           "citation precision": 0.85, "refusal of unanswerable": 0.70},
    "ko": {"headings Recall@1": 0.95, "headings Recall@5": 0.96, "paraphrase Recall@5": 0.86,
           "citation precision": 0.81, "refusal of unanswerable": 0.85},
}
# en 0.192 (10 of 52) once the PDF's words are read apart: en-t18 now sees two passages
# that disagree and the answer step abstains (benchmarks/RESULTS.md, PDF word spacing).
RANK1_LOST_CEILING = {"en": 0.20, "ko": 0.27}   # the target is < 0.02


def hand_written(language: str) -> list[dict]:
    path = debian_docs.DATA / f"debian-docs-{language}.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_question_set_is_the_size_the_issue_asks(language):
    rows = hand_written(language)
    kinds = [r["kind"] for r in rows]
    assert kinds.count("paraphrase") >= 40
    assert kinds.count("typo") >= 20
    assert kinds.count("unanswerable") >= 20
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    assert all(r["document"] and r["evidence"] for r in answerable)
    assert len({r["id"] for r in rows}) == len(rows)


def test_a_passage_is_matched_on_what_a_person_reads_with_list_numbers():
    """Our parser numbers an ordered list's items as a browser does; the page's text the
    evidence was read from (BeautifulSoup's) has no numbers. The words must still agree."""
    item = debian_docs.Item("ko-h", "heading", "인쇄 범위에 셀 추가", "scalc-a.html",
                            "인쇄할 셀을 선택합니다. 서식 - 인쇄 범위 - 추가 를 선택합니다.")
    numbered = "1. 인쇄할 셀을 선택합니다.\n2. 서식 - 인쇄 범위 - 추가를 선택합니다."
    assert debian_docs.holds(item, "scalc-a.html", numbered)
    assert not debian_docs.holds(item, "scalc-a.html", "1. 인쇄할 셀을 선택합니다.\n2. 서식 - "
                                                       "인쇄 범위 - 지우기를 선택합니다.")
    english = debian_docs.Item("en-p", "paraphrase", "q", "a.html",
                               "Stop the worker. Run rebuild_indexes with the date of the backup.")
    assert debian_docs.holds(english, "a.html", "1. Stop the worker.\n2. Run rebuild_indexes "
                                                "with the date of the backup.")
    assert not debian_docs.holds(english, "a.html", "1. Stop the worker.\n2. Run reconcile "
                                                    "with the date of the backup.")


PAGE = """<html><body><div id="DisplayArea">
<h1>셀의 사용자 정의 테두리</h1><p>{words}</p>
<span class="switch"><span hidden="true" id="CALCtextscalcguideborders_1" class="CALC">
<h2>Adjacent Cells</h2><p>{words}</p></span></span>
<span class="switch"><span hidden="true" id="MACtext_2" class="MAC"><h2>Mac keys</h2>
<p>{words}</p></span><span hidden="true" id="defaulttext_2" class="default">
<h2>바로 가기 키</h2><p>{words}</p></span></span>
</div></body></html>"""


def test_a_heading_a_browser_hides_is_not_asked(tmp_path):
    """LibreOffice help ships each case of a switch hidden; its script shows the case of
    the module named in the address or the default one. A page opened by itself shows no
    Calc-only case, so its heading ("Adjacent Cells", ko-h02 before) names nothing a
    person sees and is not a question; the default case's heading is."""
    page = tmp_path / "borders.html"
    page.write_text(PAGE.format(words=" ".join(["테두리를 지정합니다."] * 25)), "utf-8")
    built = corpus.Built("ko", tmp_path, {"scalc-borders.html": page})
    asked = [item.question for item in debian_docs.headings(built)]
    assert asked == ["셀의 사용자 정의 테두리", "바로 가기 키"]


OTHER = "Set the debhelper compat level to 13 in debian/control."


def test_a_sentence_of_another_manual_counts_only_as_a_passage_of_that_manual():
    """Manuals overlap: a question may name another document's sentence that answers it.
    A passage of that document holding the sentence cites rightly; the same document
    without it, or the same sentence in a passage of any other document, does not."""
    item = debian_docs.Item(
        "en-p", "paraphrase", "Which compat level should a new package use?", "a.html",
        "New packages should use compat level 13 today.",
        ("Level 13 is the one to start with.",
         {"document": "b.html", "evidence": OTHER}))
    assert debian_docs.holds(item, "b.html", f"Intro. {OTHER} More.")
    assert debian_docs.holds(item, "a.html", "Level 13 is the one to start with.")
    assert not debian_docs.holds(item, "b.html", OTHER.replace("13", "12"))
    assert not debian_docs.holds(item, "b.html", "Level 13 is the one to start with.")
    assert not debian_docs.holds(item, "a.html", OTHER)
    assert not debian_docs.holds(item, "c.html", OTHER)


def test_a_sentence_named_with_another_manual_must_be_in_that_manual(tmp_path):
    pages = {"a.html": "<p>New packages should use compat level 13 today.</p>",
             "b.html": f"<p>{OTHER}</p>"}
    for name, html in pages.items():
        (tmp_path / name).write_text(html)
    built = corpus.Built("en", tmp_path, {name: tmp_path / name for name in pages})

    def item(also):
        return debian_docs.Item("en-p", "paraphrase", "q", "a.html",
                                "New packages should use compat level 13 today.", (also,))

    there = item({"document": "b.html", "evidence": OTHER})
    elsewhere = item({"document": "a.html", "evidence": OTHER})
    unknown = item({"document": "c.html", "evidence": OTHER})
    assert debian_docs.missing_evidence(built, [there]) == []
    assert debian_docs.missing_evidence(built, [elsewhere]) == ["en-p"]
    assert debian_docs.missing_evidence(built, [unknown]) == ["en-p"]


@pytest.fixture(scope="module", params=LANGUAGES)
def result(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """Build, ingest, search and ask once per language (the tests only read numbers)."""
    from citewise.knowledge.models import KnowledgeBase
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.services import delete_knowledge_base

    language = request.param
    with django_db_blocker.unblock():
        try:
            measured = debian_docs.evaluate(language, tmp_path_factory.mktemp(language),
                                            log=lambda *_: None)
        except corpus.Unavailable as error:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"Debian documentation packages unavailable: {error}")
        finally:  # rows and index files: later tests start clean
            for kb in KnowledgeBase.objects.filter(slug=f"debian-docs-{language}"):
                delete_knowledge_base(SYSTEM, kb)
    print("\n" + debian_docs.report([measured], "pytest tests/eval/test_debian_docs.py", 0))
    return measured


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
class TestRealDocuments:
    @pytest.mark.parametrize("gate", list(debian_docs.GATES))
    def test_gate(self, result, gate):
        value, _target = result.gates()[gate]
        floor = FLOORS[result.language][gate]
        assert (value or 0) >= floor, (result.language, gate, result.retrieval,
                                       result.answers, result.failures)

    def test_every_document_is_indexed(self, result):
        assert not result.knowledge_base.failed, result.knowledge_base.failed

    def test_the_answer_step_keeps_what_search_ranked_first(self, result):
        lost = result.answers["rank1_but_ask_lost_it"]
        assert (lost or 0) <= RANK1_LOST_CEILING[result.language], (result.language,
                                                                     result.answers)

    def test_a_misspelling_does_not_lose_what_the_paraphrase_finds(self, result):
        """Each typo question misspells one paraphrase ("of"); two questions' worth of
        slack (English loses two today: en-t06, en-t16)."""
        found = {row.id for row in result.rows if row.rank is not None and row.rank <= 5}
        lost = [r["id"] for r in hand_written(result.language)
                if r["kind"] == "typo" and r["of"] in found and r["id"] not in found]
        assert len(lost) <= 2, (result.language, lost)
