from __future__ import annotations

import pytest

from retrieval.errors import IndexCorrupt, IndexMismatch
from retrieval.lexical import LexicalStore
from textproc.tokens import TokenizerConfig

KOREAN = {
    1: "대한민국의 수도는 서울이며 인구는 약 천만 명이다.",
    2: "부산은 대한민국 제2의 도시이자 최대의 항구 도시이다.",
    3: "김치는 배추와 고춧가루로 만드는 한국의 전통 발효 음식이다.",
    4: "Python은 귀도 반 로섬이 만든 프로그래밍 언어이다.",
}


def top(store: LexicalStore, query: str, kb: str = "kb", k: int = 3, **kw) -> list[int]:
    return store.search(kb, query, k, **kw)[0].tolist()


@pytest.mark.parametrize("korean", ["bigram", "kiwi"])
def test_korean_questions_find_the_passage_despite_particles(tmp_path, korean):
    store = LexicalStore(tmp_path, tokenizer=TokenizerConfig(korean=korean))
    store.rebuild("kb", list(KOREAN), list(KOREAN.values()))
    assert top(store, "한국의 수도는 어디인가?")[0] == 1
    assert top(store, "가장 큰 항구 도시는?")[0] == 2
    assert top(store, "김치를 만드는 재료")[0] == 3
    assert top(store, "파이썬 python을 만든 사람은 누구인가")[0] == 4


def test_english_search_ranks_the_matching_passage_first(tmp_path):
    store = LexicalStore(tmp_path)
    store.add("kb", [10, 11], ["How to install packages with pip",
                               "Garbage collection frees unused memory"])
    assert top(store, "install package")[0] == 10
    assert top(store, "memory garbage collector")[0] == 11
    assert top(store, "the of and") == []  # stop words alone match nothing


def test_remove_and_upsert_change_what_is_found(tmp_path):
    store = LexicalStore(tmp_path)
    store.add("kb", [1, 2], ["alpha bravo", "charlie delta"])
    store.remove("kb", [1])
    assert top(store, "alpha") == []
    store.upsert("kb", [2], ["alpha echo"])
    assert top(store, "alpha") == [2]
    assert top(store, "charlie") == []
    with pytest.raises(ValueError, match="already indexed"):
        store.add("kb", [2], ["foxtrot"])
    assert store.manifest("kb")["count"] == 1


def test_a_reader_sees_saved_changes_without_restarting(tmp_path):
    writer, reader = LexicalStore(tmp_path), LexicalStore(tmp_path)
    writer.add("kb", [1], ["first document"])
    assert top(reader, "document") == [1]
    writer.add("kb", [2], ["second document document"])
    assert sorted(top(reader, "document")) == [1, 2]


def test_corrupt_lexical_index_is_rebuilt_from_the_source(tmp_path):
    store = LexicalStore(tmp_path)
    store.rebuild("kb", [1, 2], ["red apple", "green pear"])
    data = next((tmp_path / "kb").glob("lexical-*.npz"))
    data.write_bytes(b"PK\x03\x04 broken")
    fresh = LexicalStore(tmp_path)
    with pytest.raises(IndexCorrupt):
        fresh.search("kb", "pear", 1)
    assert top(fresh, "pear", source=lambda: ([1, 2], ["red apple", "green pear"])) == [2]


def test_changing_the_tokenizer_forces_a_rebuild(tmp_path):
    bigram = LexicalStore(tmp_path, tokenizer=TokenizerConfig(korean="bigram"))
    bigram.rebuild("kb", [1], ["서울에서 만나요"])
    kiwi = LexicalStore(tmp_path, tokenizer=TokenizerConfig(korean="kiwi"))
    with pytest.raises(IndexMismatch):
        kiwi.search("kb", "서울", 1)
    assert top(kiwi, "서울", source=lambda: ([1], ["서울에서 만나요"])) == [1]
    assert kiwi.manifest("kb")["tokenizer"] == kiwi.tokenizer.name


def test_term_coverage_weighs_rare_terms_over_common_ones(tmp_path):
    """A passage that shares only the knowledge base's everyday words with a question
    covers little of it; one that has the question's rare terms covers most of it."""
    store = LexicalStore(tmp_path)
    store.add("kb", [1, 2, 3, 4], [
        "Python threads share memory; the global interpreter lock serialises bytecode.",
        "Python lists grow in place; tuples are immutable sequences in Python.",
        "Python modules are imported once and cached in sys.modules.",
        "Python strings are immutable; use str.join to build long strings in Python.",
    ])
    coverage = store.term_coverage("kb", "How do I access the serial port in Python?",
                                   [1, 2, 3, 4])
    assert set(coverage) == {1, 2, 3, 4}
    assert max(coverage.values()) < 0.2  # only "python", found in every passage
    covered = store.term_coverage("kb", "Which lock serialises Python threads?", [1, 2, 99])
    assert covered[1] > 0.9 and covered[2] < 0.1
    assert 99 not in covered  # unknown ids are skipped, not invented
    # A term whose only chunk was deleted weighs like a term the knowledge base never had.
    store.remove("kb", [1])
    after = store.term_coverage("kb", "Which lock serialises Python threads?", [2])
    never = store.term_coverage("kb", "Which gizmo frobnicates Python threads?", [2])
    assert after[2] == pytest.approx(never[2])
    korean = LexicalStore(tmp_path / "ko")
    korean.rebuild("kb", list(KOREAN), list(KOREAN.values()))
    assert korean.term_coverage("kb", "배추로 만드는 발효 음식은?", [3])[3] > 0.9
    assert korean.term_coverage("kb", "배추로 만드는 발효 음식은?", [1])[1] < 0.1


def test_a_misspelled_word_finds_the_passages_of_the_word_meant(tmp_path):
    store = LexicalStore(tmp_path)
    store.rebuild("kb", [1, 2, 3], ["Set the package maintainer to the QA group.",
                                    "Lintian checks a package against the policy.",
                                    "The changelog lists every upload."])
    assert top(store, "which tool cheks debian polciy")[0] == 2
    assert top(store, "set the pacakge maintaner")[0] == 1
    # A short word or a real word the passages never use stays as written: no match.
    assert top(store, "contractors") == []
