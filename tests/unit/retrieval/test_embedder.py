from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedder import Embedder, EmbedderConfig, get_embedder


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


# ----- backends ---------------------------------------------------------------------------

SENTENCES = ["The cat sat on the mat.", "How do I install a Python package with pip?",
             "서울의 겨울은 춥고 건조하다.", "PostgreSQL supports transactional DDL. " * 40]


def test_backend_defaults_to_torch_and_the_config_stays_hashable():
    assert EmbedderConfig().backend == "torch"
    assert EmbedderConfig().cache_dir is None
    configs = {EmbedderConfig(), EmbedderConfig(backend="onnx", cache_dir="/x"),
               EmbedderConfig(backend="onnx", cache_dir="/x")}
    assert len(configs) == 2


@pytest.mark.parametrize("name", ["tensorrt", "ONNX", "onnx_int8", ""])
def test_an_unknown_backend_is_refused_with_the_allowed_values(name):
    with pytest.raises(ValueError, match="allowed values: torch, onnx, onnx-int8"):
        EmbedderConfig(backend=name)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed, so the ONNX "
                        "backends cannot run: pip install onnxruntime onnx")
    pytest.importorskip("onnx", reason="the onnx package (needed to export) is not installed")
    return tmp_path_factory.mktemp("onnx-cache")


def test_onnx_backend_matches_torch_and_exports_into_the_given_cache(embedder, onnx_cache):
    onnx = get_embedder(EmbedderConfig(backend="onnx", cache_dir=str(onnx_cache)))
    vectors = onnx.embed_passages(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert _cosines(vectors, embedder.embed_passages(SENTENCES)).min() > 0.99
    assert _cosines(onnx.embed_query("hello")[None], embedder.embed_query("hello")[None])[0] > 0.99
    # Same tokenizer, so the chunker's budget does not depend on the backend.
    assert onnx.count_tokens(SENTENCES[3]) == embedder.count_tokens(SENTENCES[3])
    assert onnx.embed_passages([]).shape == (0, 384)
    graphs = list(onnx_cache.rglob("model.onnx"))
    assert len(graphs) == 1


def test_onnx_export_is_reused_not_redone(onnx_cache):
    config = EmbedderConfig(backend="onnx", cache_dir=str(onnx_cache))
    get_embedder(config)
    [graph] = onnx_cache.rglob("model.onnx")
    before = graph.stat().st_mtime_ns
    Embedder(config)  # a fresh load, as in another worker process
    assert graph.stat().st_mtime_ns == before
    assert [p.name for p in onnx_cache.rglob("*") if p.name.startswith(".")] == []


def test_int8_backend_stays_close_to_torch(embedder, onnx_cache):
    int8 = get_embedder(EmbedderConfig(backend="onnx-int8", cache_dir=str(onnx_cache)))
    cosines = _cosines(int8.embed_passages(SENTENCES), embedder.embed_passages(SENTENCES))
    # Quantised weights: close, not equal (the retrieval benchmark measures what it costs).
    assert cosines.min() > 0.95
    assert len(list(onnx_cache.rglob("model.onnx"))) == 2  # fp32, then int8 from it
