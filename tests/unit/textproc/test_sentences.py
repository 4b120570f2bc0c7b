"""Sentence boundaries: one splitter for the chunker, the extractive backend and the
verifier, so a quoted sentence is always one the chunker kept whole."""

from __future__ import annotations

import time

import pytest

from inference.citations import parse_citations
from inference.sources import Source
from inference.verify import Verifier
from ingestion.blocks import Block, ParsedDocument
from ingestion.chunker import chunk_document
from textproc.sentences import list_sentences, sentence_spans, split_sentences, whole_sentences

ENGLISH = [
    "Python 3.5 added async syntax, e.g. async def in asyncio.",
    "Dr. Smith wrote the guide in 2015.",
    '"Is it fast?" she asked.',
    "It is fast!",
    "Mirrors in the U.S. are faster\u2026",
    "1. Install Python from python.org.",
    "2. Run pip install citewise.",
]
ENGLISH_LINES = ["- Restart the worker after an upgrade", "- Rebuild the indexes"]
KOREAN = [
    "회의는 3.5시간 동안 진행됩니다.",
    "설치 방법은 다음과 같습니다.",
    "먼저 파이썬을 설치하세요.",
    "정말 빠른가요?",
    "네!",
    "그는 \u201c좋다.\u201d",
    "그리고 떠났다.",
    "東京は大きい。",
    "本当\uff1f",
]
KOREAN_LINES = ["1. 첫 번째 항목입니다", "2. 두 번째 항목이다"]
CASES = {
    "english": (" ".join(ENGLISH) + "\n" + "\n".join(ENGLISH_LINES), ENGLISH + ENGLISH_LINES),
    # "다.먼저": Korean text often has no space after a sentence's full stop.
    "korean": (KOREAN[0] + " " + KOREAN[1] + KOREAN[2] + " " + " ".join(KOREAN[3:7])
               + " " + "".join(KOREAN[7:]) + "\n" + "\n".join(KOREAN_LINES),
               KOREAN + KOREAN_LINES),
}


def _sentences_the_chunker_keeps(text: str, gold: list[str]) -> list[str]:
    """Chunks with a budget of one gold sentence each: a chunk equals a gold sentence
    only if the chunker never put a boundary inside it nor missed one between two."""

    def count(piece: str) -> int:
        return max(1, sum(sentence in piece for sentence in gold))

    doc = ParsedDocument(blocks=[Block(text, heading_path=("Guide",))])
    return [c.text for c in chunk_document(doc, count, max_tokens=1, overlap_tokens=0)]


@pytest.mark.parametrize("language", CASES)
def test_chunker_and_verifier_cut_the_same_sentences(language):
    text, gold = CASES[language]
    assert _sentences_the_chunker_keeps(text, gold) == gold
    checked = Verifier().verify(text, [], []).sentences
    assert [check.text for check in checked] == gold


def test_offsets_index_the_original_text():
    text = "  One. Two?  셋입니다. "
    spans = sentence_spans(text)
    assert [span.text for span in spans] == ["One.", "Two?", "셋입니다."]
    assert all(text[span.start:span.end] == span.text for span in spans)


def test_citation_markers_stay_with_their_sentence():
    text = "Paris is the capital. [1] It is old [2]. Version 3.11 is out.【3】"
    spans = sentence_spans(text)
    assert [s.text for s in spans] == ["Paris is the capital. [1]", "It is old [2].",
                                       "Version 3.11 is out.【3】"]
    assert all(text[s.start:s.end] == s.text for s in spans)


@pytest.mark.parametrize("marker", ["[1～2]", "［１～２］", "【1, 2】", "[1–2]"])
def test_a_marker_written_with_any_range_sign_the_parser_reads_stays_with_its_sentence(
        marker):
    """The splitter and the answer's citation parser read one marker alphabet: a range
    with the full-width tilde Korean and Japanese answers write is cited by the sentence
    before it, not read as the start of the next one."""
    text = f"연차는 3일 전에 신청한다. {marker} 이월은 3월까지다. [3]"
    assert split_sentences(text) == [f"연차는 3일 전에 신청한다. {marker}", "이월은 3월까지다. [3]"]
    sources = [Source(n=n, chunk_id=n, title=f"Doc {n}", document=f"doc{n}.md", page=None,
                      heading_path=(), text=f"text {n}", score=1.0) for n in (1, 2, 3)]
    _, citations, _ = parse_citations(f"연차는 신청한다. {marker}", sources)
    assert [c.numbers for c in citations] == [(1, 2)]


def test_a_line_break_ends_a_heading_or_a_korean_line_without_a_stop():
    assert split_sentences("설치 안내\n첫 번째 항목이다\n두 번째 항목입니다\n") == [
        "설치 안내", "첫 번째 항목이다", "두 번째 항목입니다"]


def test_a_dot_inside_a_word_or_a_file_name_never_splits():
    assert split_sentences("See docs.python.org and 설정파일.txt for v1.2.3 details.") == [
        "See docs.python.org and 설정파일.txt for v1.2.3 details."]


def test_splitting_stays_linear_on_pathological_input():
    # Before: each "e.g." looked back over the whole text: 5,000 of them took 30 s.
    text = "e.g. " * 20_000
    started = time.perf_counter()
    assert len(split_sentences(text)) == 1
    assert time.perf_counter() - started < 10


def test_a_korean_quotation_continues_after_its_closing_quote():
    # KorQuAD: the particle 고/라고/는 right after the quote belongs to the same sentence.
    text = '그는 "권한을 행사하고 있다."고 답변했다. 다음 문장이다.'
    assert split_sentences(text) == ['그는 "권한을 행사하고 있다."고 답변했다.', "다음 문장이다."]


def test_korean_dates_and_english_contractions():
    assert split_sentences("조사는 2010. 3. 26. 발표되었다. 결과는 좋았다.") == [
        "조사는 2010. 3. 26. 발표되었다.", "결과는 좋았다."]
    # Python FAQ: the "t" of "can't" is not an initial like the "J" of "J. Smith".
    assert split_sentences("You can\u2019t. Use PyTuple_Pack() instead.") == [
        "You can\u2019t.", "Use PyTuple_Pack() instead."]


def test_a_dot_between_korean_words_that_end_no_sentence_does_not_split():
    # KorQuAD: "해.공군" is "navy and air force"; "1.064. 7월" ends a sentence.
    assert split_sentences("전직 해.공군참모총장을 고발했다.이어 감사했다.") == [
        "전직 해.공군참모총장을 고발했다.", "이어 감사했다."]
    assert split_sentences("OPS 1.064. 7월 OPS는 7위였다.") == ["OPS 1.064.", "7월 OPS는 7위였다."]


def test_a_lowercase_word_continues_after_a_question_mark_not_after_a_full_stop():
    # Python FAQ answers: "#!" is not an end; "comp.lang.python" starts a sentence.
    assert split_sentences("The first line must begin with #! followed by the path.") == [
        "The first line must begin with #! followed by the path."]
    assert split_sentences("Subscribe to the list. comp.lang.python is busy.") == [
        "Subscribe to the list.", "comp.lang.python is busy."]


def test_an_ellipsis_in_a_command_synopsis_does_not_end_it():
    # The demo's "Rebuilding indexes" quoted "rebuild_indexes [--kb SLUG ...]" without
    # the rest of its line.
    synopsis = "python manage.py rebuild_indexes [--kb SLUG ...] [--backend faiss|milvus]"
    assert split_sentences(synopsis + "\nRun it once.") == [synopsis, "Run it once."]
    assert split_sentences("Wait... Then run it.") == ["Wait...", "Then run it."]
    assert split_sentences("그리고… 다음입니다.") == ["그리고…", "다음입니다."]


STEPS = ("Rebuilding moves stores too. To move a deployment to Milvus:\n\n"
         "1. rebuild_indexes --backend milvus while the current store keeps serving;\n\n"
         "2. set CITEWISE_VECTOR_STORE and restart the workers;\n\n"
         "3. run step 1 again, or pause uploads during the move.\n\n"
         "To install:\n1. Download the installer.\n2. Run it, then restart.")


def test_a_list_that_is_one_sentence_has_no_whole_sentence_in_its_lines():
    """A line ending with a comma, semicolon or colon leaves its sentence open, and the
    line after a comma or semicolon is that sentence's next item; a list announced by a
    colon may still hold whole sentences."""
    spans = sentence_spans(STEPS)
    whole = dict(zip([s.text[:12] for s in spans], whole_sentences(spans), strict=True))
    assert whole == {"Rebuilding m": True, "To move a de": False, "1. rebuild_i": False,
                     "2. set CITEW": False, "3. run step ": False, "To install:": False,
                     "1. Download ": True, "2. Run it, t": True}
    korean = sentence_spans("설치 순서는 다음과 같다：\n먼저 내려받고，\n그다음 실행한다.\n끝났다.")
    assert whole_sentences(korean) == [False, False, False, True]
    assert whole_sentences([]) == []


def test_a_list_that_is_one_sentence_is_found_from_its_lead_in_to_its_full_stop():
    """The lead-in closed by a colon and its items closed by semicolons, up to the one
    closed by a full stop, make one unit; a list of whole sentences does not. A citation
    marker after the last item (an answer) is not its ending."""
    spans = sentence_spans(STEPS)
    units = [[spans[i].text[:12] for i in run] for run in list_sentences(STEPS, spans)]
    assert units == [["To move a de", "1. rebuild_i", "2. set CITEW", "3. run step "]]
    answer = "To move:\n- rebuild the index;\n- switch over. [1]\nDone."
    assert list_sentences(answer, sentence_spans(answer)) == [range(0, 3)]
    korean = "설치 순서는 다음과 같다：\n먼저 내려받고，\n그다음 실행한다."
    assert list_sentences(korean, sentence_spans(korean)) == [range(0, 3)]


@pytest.mark.parametrize("text", [
    "1. rebuild the index;\n2. switch over.",  # no lead-in: maybe a list cut by the chunker
    "To move:\n1. rebuild the index;\n2. switch over",  # no full stop: the list goes on
    "To move:\n1. Build it. Then wait;\n2. switch over.",  # an item split in two sentences
    "To move:\n1. Build it.\n2. Switch over.",  # whole sentences
    "To move: rebuild the index; switch over.",  # one line: already one sentence
])
def test_what_is_not_a_list_that_is_one_sentence(text):
    assert list_sentences(text, sentence_spans(text)) == []


def test_a_command_continued_with_a_backslash_is_not_a_whole_sentence():
    """Quoted alone, either line is a command cut short: pasted, the first waits for more."""
    text = ("An admin creates a key for each program.\n\n"
            "$ python manage.py apikey create --name bot --kb hr \\\n"
            "    --scope ask,search --expires 90d\n\nKeys expire after 90 days.")
    spans = sentence_spans(text)
    assert [(s.text, whole) for s, whole in zip(spans, whole_sentences(spans), strict=True)] == [
        ("An admin creates a key for each program.", True),
        ("$ python manage.py apikey create --name bot --kb hr \\", False),
        ("--scope ask,search --expires 90d", False),
        ("Keys expire after 90 days.", True)]
