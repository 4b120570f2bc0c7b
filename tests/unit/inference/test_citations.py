from __future__ import annotations

import random

import pytest

from inference.backends.base import Delta
from inference.citations import Citation, CitationParser, parse_citations, parse_numbers

from .helpers import source

SOURCES = [source(n, f"text {n}") for n in (1, 2, 3, 4)]


@pytest.mark.parametrize(("raw", "numbers"), [
    ("1", [1]), ("1, 3", [1, 3]), ("1,2,3", [1, 2, 3]), ("2-4", [2, 3, 4]), ("1 - 2", [1, 2]),
    ("１", [1]), ("1，2", [1, 2]), ("1、2", [1, 2]), ("2–3", [2, 3]), ("1 2", [1, 2]),
    ("1-500", [1, 500]),
])
def test_parse_numbers(raw, numbers):
    assert parse_numbers(raw) == numbers


@pytest.mark.parametrize(("answer", "clean", "cited"), [
    ("Paris [1].", "Paris [1].", [(1,)]),
    ("Paris [1, 2].", "Paris [1, 2].", [(1, 2)]),
    ("Paris [1-3].", "Paris [1, 2, 3].", [(1, 2, 3)]),
    ("Paris ［2］.", "Paris [2].", [(2,)]),
    ("서울 【3】.", "서울 [3].", [(3,)]),
    ("Paris【１，２】.", "Paris[1, 2].", [(1, 2)]),
    ("Paris [1][2].", "Paris [1][2].", [(1,), (2,)]),
    ("Paris [9].", "Paris.", []),
    ("Paris [2, 9].", "Paris [2].", [(2,)]),
    ("See [the docs](x) and [ ] or [a].", "See [the docs](x) and [ ] or [a].", []),
    ("Use `a[1]` here [1].", "Use `a[1]` here [1].", [(1,)]),
    ("Unclosed [1", "Unclosed [1", []),
])
def test_whole_answers(answer, clean, cited):
    text, citations, _ = parse_citations(answer, SOURCES)
    assert text == clean
    assert [c.numbers for c in citations] == cited
    for c in citations:
        assert text[c.start:c.end].startswith("[")
        assert [s.n for s in c.sources] == list(c.numbers)


def test_removed_numbers_are_counted():
    parser = CitationParser(SOURCES)
    list(parser.parse(["A [7]. B [1, 8]. C [2]."]))
    assert parser.text == "A. B [1]. C [2]."
    assert parser.removed_numbers == [7, 8]
    assert parser.invalid_count == 2
    assert parser.removed_markers == 1


ANSWERS = [
    "Python runs on Windows [1]. It is free【2】 and open ［3, 4］. Not this [12]. End [1-2]",
    "서울은 수도이다 [1]. 부산은 항구이다 [２]. 인천 [5].",
    "`x[1]` and [1] then [ 2 ,3 ] and [4-2] and [] done.",
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_split_anywhere_gives_the_same_result(answer):
    whole_text, whole_citations, whole_invalid = parse_citations(answer, SOURCES)
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    for trial in range(200):
        if trial < len(answer):
            pieces = [answer[:trial], answer[trial:]]
        else:
            cuts = sorted(rng.sample(range(1, len(answer)), k=min(8, len(answer) - 1)))
            pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)],
                                                  strict=True)]
        parser = CitationParser(SOURCES)
        events = list(parser.parse(pieces))
        deltas = "".join(e.text for e in events if isinstance(e, Delta))
        assert deltas == parser.text == whole_text
        assert [(c.numbers, c.start) for c in events if isinstance(c, Citation)] == \
            [(c.numbers, c.start) for c in whole_citations]
        assert parser.invalid_count == whole_invalid


def test_char_by_char_stream_emits_citation_after_its_text():
    parser = CitationParser(SOURCES)
    events = list(parser.parse(list("Paris [1]. Rome [2].")))
    kinds = [type(e).__name__ for e in events]
    first = kinds.index("Citation")
    emitted = "".join(e.text for e in events[:first] if isinstance(e, Delta))
    assert emitted.endswith("[1]")


def test_feed_after_close_fails():
    parser = CitationParser(SOURCES)
    parser.close()
    with pytest.raises(RuntimeError):
        parser.feed("x")


def test_brackets_inside_a_verbatim_quote_are_the_documents_own():
    # The extractive backend quotes "tuple([1, 2, 3]) yields (1, 2, 3)" from a Python FAQ:
    # read as a marker, that list cited sources 1, 2 and 3 for one quote of source 1.
    parser = CitationParser(SOURCES)
    events = [*parser.feed("For example, tuple([1, 2, 3]) yields (1, 2, 3).", verbatim=True),
              *parser.feed(" [1]"),
              *parser.feed(" A `quote with one backtick [2].", verbatim=True),
              *parser.feed(" [2]"), *parser.close()]
    cited = [e.numbers for e in events if isinstance(e, Citation)]
    assert cited == [(1,), (2,)]
    assert parser.text == ("For example, tuple([1, 2, 3]) yields (1, 2, 3). [1] "
                           "A `quote with one backtick [2]. [2]")


def test_a_partial_marker_before_a_verbatim_quote_stays_text():
    parser = CitationParser(SOURCES)
    events = [*parser.feed("Paris [1"), *parser.feed(" is [2] big.", verbatim=True),
              *parser.close()]
    assert not [e for e in events if isinstance(e, Citation)]
    assert parser.text == "Paris [1 is [2] big."
