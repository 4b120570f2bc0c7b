from __future__ import annotations

import random

import pytest

from retrieval.dedupe import jaccard, near_duplicates, shingles
from retrieval.fusion import RankedList, confidence, rrf
from retrieval.hybrid import SearchResult, rerank_order


def test_rrf_adds_weighted_reciprocal_ranks():
    fused = rrf([RankedList(["a", "b"], [0.9, 0.8], weight=1.0),
                 RankedList(["b", "c"], [12.0, 3.0], weight=2.0)], k=60)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 2 / 61)
    assert fused["c"] == pytest.approx(2 / 62)
    assert max(fused, key=fused.get) == "b"  # found by both lists beats one list's best


def test_a_zero_weight_list_does_not_vote():
    fused = rrf([RankedList(["a"], [1.0], weight=0.0), RankedList(["b"], [1.0], weight=1.0)],
                k=60)
    assert fused["a"] == 0.0 and fused["b"] > 0


def test_confidence_is_high_for_a_standout_hit_and_zero_for_flat_scores():
    assert confidence([10.0, 2.0, 1.9, 1.8, 1.7]) > 0.9
    assert confidence([0.51, 0.50, 0.50, 0.49, 0.49]) < 0.6
    assert confidence([0.5, 0.5, 0.5]) == 0.0
    assert confidence([]) == 0.0
    # Scale-free: BM25 and cosine scores get comparable confidences.
    assert confidence([20, 10, 5, 1]) == pytest.approx(confidence([0.2, 0.1, 0.05, 0.01]))


def test_near_duplicates_keep_the_better_ranked_copy():
    texts = {
        "a": "Reset your password from the account page, then sign in again.",
        "b": "Reset your password from the account page, then sign in again!",  # re-upload
        "c": "비밀번호는 계정 페이지에서 재설정할 수 있습니다.",
        "d": "비밀번호는  계정 페이지에서 재설정할 수 있습니다.",  # extra space
        "e": "Invoices are sent on the first day of every month.",
    }
    assert near_duplicates(["a", "b", "c", "d", "e"], texts) == {"b", "d"}
    assert near_duplicates(["b", "a"], texts) == {"a"}
    assert near_duplicates(["a", "x"], texts) == set()  # keys without text are kept


def test_jaccard_of_shingles():
    assert jaccard(shingles("abcdef"), shingles("abcdef")) == 1.0
    assert jaccard(shingles("abcdefgh"), shingles("zzzzzzzz")) == 0.0


def test_rerank_order_sorts_by_rerank_score_and_keeps_fused_order_on_ties():
    results = [SearchResult(i, "kb", rank=i, fused_score=1 / i, rerank_score=s)
               for i, s in [(1, 0.1), (2, 0.9), (3, 0.1), (4, 0.5)]]
    assert [r.chunk_id for r in rerank_order(results)] == [2, 4, 1, 3]


def test_dense_confidence_uses_the_absolute_cosine_lead():
    from retrieval.fusion import dense_confidence

    # A model that understands the question: the best passage stands well clear.
    assert dense_confidence([0.85, 0.5, 0.4, 0.38, 0.35], confident_gap=0.3) == 1.0
    # A model that cannot read the language: every passage looks about the same.
    assert dense_confidence([0.60, 0.56, 0.55, 0.55, 0.54], confident_gap=0.3) < 0.25
    assert dense_confidence([0.60, 0.56, 0.55, 0.55, 0.54], confident_gap=0.3,
                            noise_gap=0.15) == 0.0


def test_near_duplicates_drop_exactly_what_the_shingle_jaccard_definition_drops():
    """The array implementation (every search runs it before an answer's first token)
    against the definition: Jaccard of character 5-gram sets, better-ranked copy kept."""
    rng = random.Random(15)  # noqa: S311 (test data, not secrets)
    words = ["reset", "your", "password", "every", "90", "days", "비밀번호는", "계정",
             "페이지에서", "재설정할", "VPN", "ＶＰＮ", "client"]
    for _ in range(300):
        base = [" ".join(rng.choices(words, k=rng.randint(0, 30))) for _ in range(6)]
        texts = {}
        for key in range(rng.randint(1, 16)):
            text = rng.choice(base)
            if rng.random() < 0.5:  # a near copy: cut short, something added
                text = text[:rng.randint(0, len(text))] + rng.choice(["", " again", "!"])
            if rng.random() < 0.15:  # empty and shorter than a shingle
                text = rng.choice(["", "ab", "abcde", "ABCDE", "aaaaaa"])
            texts[key] = text
        ordered = rng.sample(range(20), 20)  # some keys have no text
        for threshold in (0.5, 0.8, 1.0):
            kept: list[frozenset[str]] = []
            expected = set()
            for key in (k for k in ordered if k in texts):
                current = shingles(texts[key])
                if any(jaccard(current, other) >= threshold for other in kept):
                    expected.add(key)
                else:
                    kept.append(current)
            assert near_duplicates(ordered, texts, threshold=threshold) == expected
