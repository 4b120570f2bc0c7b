from __future__ import annotations

from inference.citations import parse_citations
from inference.verify import Verifier, VerifierConfig, is_claim, lexical_support

from .helpers import embed_passages, source

SOURCES = [
    source(1, "Python was created by Guido van Rossum. It was first released in 1991."),
    source(2, "서울은 대한민국의 수도이다. 인구는 약 천만 명이다."),
]


def check(answer: str, verifier: Verifier | None = None):
    text, citations, _ = parse_citations(answer, SOURCES)
    return (verifier or Verifier()).verify(text, citations, SOURCES)


def test_supported_quotes_are_grounded():
    result = check("Python was created by Guido van Rossum. [1] 서울은 대한민국의 수도이다 [2].")
    assert result.grounded
    assert [s.cited for s in result.sentences] == [(1,), (2,)]
    assert all(s.supported and s.claim for s in result.sentences)
    assert result.citation_supported == {1: True, 2: True}
    assert result.snippets[1] == "Python was created by Guido van Rossum."


def test_wrong_citation_is_unsupported_and_not_grounded():
    result = check("Python was created by Guido van Rossum [2]. It was released in 1991 [1].")
    assert not result.grounded
    assert [s.supported for s in result.sentences] == [False, True]
    assert result.unsupported[0].text == "Python was created by Guido van Rossum."
    assert result.citation_supported == {2: False, 1: True}


def test_a_citation_backing_one_claim_but_not_another_is_marked_unsupported():
    result = check("Python was created by Guido van Rossum [1]. "
                   "Every copy needs a paid licence for commercial use [1].")
    assert [s.supported for s in result.sentences] == [True, False]
    assert result.citation_supported == {1: False} and not result.grounded


def test_uncited_claim_is_not_grounded_but_questions_and_short_bits_are_fine():
    assert not check("Python was created by Guido van Rossum.").grounded
    result = check("Python was created by Guido van Rossum [1]. Want more? Sure.")
    assert result.grounded
    assert [s.claim for s in result.sentences] == [True, False, False]


def test_not_found_reply_is_not_a_claim():
    assert not is_claim("I couldn't find the answer to that in the documents.")
    assert not check("I couldn't find the answer to that in the documents.").grounded


def test_paraphrase_needs_semantic_support():
    answer = "Van Rossum designed the language Python [1]."
    lexical_only = check(answer, Verifier(config=VerifierConfig(lexical_threshold=0.9)))
    assert not lexical_only.grounded
    semantic = check(answer, Verifier(embed=embed_passages,
                                      config=VerifierConfig(lexical_threshold=0.9,
                                                            semantic_threshold=0.5)))
    support = semantic.sentences[0].support[0]
    assert support.semantic is not None and support.semantic > 0.5
    assert semantic.grounded


def test_entailment_callable_decides_when_configured():
    calls = []

    def entail(premise: str, hypothesis: str) -> float:
        calls.append((premise, hypothesis))
        return 0.1

    result = check("Van Rossum created Python in 1991 [1].", Verifier(entail=entail))
    assert calls and calls[0][0] == SOURCES[0].text
    assert not result.grounded
    assert result.sentences[0].support[0].entailment == 0.1
    # a verbatim quote needs no model
    calls.clear()
    assert check("It was first released in 1991 [1].", Verifier(entail=entail)).grounded
    assert calls == []


def test_lexical_support():
    assert lexical_support("It was first released in 1991.", SOURCES[0].text) == 1.0
    assert lexical_support("Bananas are yellow.", SOURCES[0].text) == 0.0
    assert lexical_support("대한민국의 수도는 서울", SOURCES[1].text) > 0.6


STEPS = source(3, "To move a deployment (or back):\n\n1. rebuild the indexes while the "
                  "current store keeps serving;\n\n2. set the store for every worker and "
                  "restart them;\n\n3. run step 1 again, or pause uploads during the move.")


def test_a_list_that_is_one_sentence_is_checked_under_its_one_marker():
    """The lead-in and the steps before the marker are that marker's claims: each is
    checked against source 3, and a step it does not hold is still caught."""
    answer = ("To move a deployment (or back):\n1. rebuild the indexes while the current "
              "store keeps serving;\n2. set the store for every worker and restart them;\n"
              "3. run step 1 again, or pause uploads during the move. [3]")
    text, citations, _ = parse_citations(answer, [*SOURCES, STEPS])
    result = Verifier().verify(text, citations, [*SOURCES, STEPS])
    assert result.grounded and [s.cited for s in result.sentences] == [(3,)] * 4
    wrong = answer.replace("set the store for every worker and restart them",
                           "email the vendor for a paid licence key")
    text, citations, _ = parse_citations(wrong, [*SOURCES, STEPS])
    result = Verifier().verify(text, citations, [*SOURCES, STEPS])
    assert not result.grounded
    assert [s.text[:2] for s in result.unsupported] == ["2."]


def test_lines_that_are_not_one_sentence_do_not_borrow_a_marker():
    text, citations, _ = parse_citations("To move a deployment (or back):\n"
                                         "Rebuild the indexes while serving.\n"
                                         "Then run step 1 again. [3]", [*SOURCES, STEPS])
    result = Verifier().verify(text, citations, [*SOURCES, STEPS])
    assert [s.cited for s in result.sentences] == [(), (), (3,)]
