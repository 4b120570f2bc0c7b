from __future__ import annotations

import numpy as np

from retrieval.embedder import EmbedderConfig, get_embedder


def test_default_model_loads_offline_and_returns_normalised_float32(embedder):
    vectors = embedder.embed_passages(["The cat sat on the mat.", "Stock markets fell."])
    assert embedder.dimension == 384
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(embedder):
    query = embedder.embed_query("How do I install a Python package?")
    passages = embedder.embed_passages(["Use pip install to add a package to Python.",
                                        "The weather in Seoul is cold in January."])
    scores = passages @ query
    assert scores[0] > scores[1] + 0.2


def test_both_spellings_of_the_default_name_share_one_loaded_model(embedder):
    assert get_embedder() is embedder
    assert get_embedder(EmbedderConfig()) is embedder
    full = get_embedder(EmbedderConfig(model="sentence-transformers/all-MiniLM-L6-v2"))
    np.testing.assert_allclose(full.embed_query("hello"), embedder.embed_query("hello"),
                               atol=1e-5)


def test_configured_prefixes_change_what_is_embedded(embedder):
    prefixed = get_embedder(EmbedderConfig(query_prefix="query: ", passage_prefix="passage: "))
    plain = embedder.embed_query("cats")
    np.testing.assert_allclose(prefixed.embed_query("cats"), embedder.embed_query("query: cats"),
                               atol=1e-5)
    assert not np.allclose(prefixed.embed_query("cats"), plain, atol=1e-3)


def test_count_tokens_uses_the_model_tokenizer(embedder):
    assert embedder.count_tokens("hello world") == 2
    # WordPiece splits rare words into several pieces: more tokens than words.
    assert embedder.count_tokens("antidisestablishmentarianism") > 1
    assert embedder.count_tokens("") == 0


def test_empty_batch_gives_an_empty_matrix(embedder):
    assert embedder.embed_passages([]).shape == (0, 384)
