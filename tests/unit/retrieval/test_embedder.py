from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retrieval import embedder as embedder_module
from retrieval.embedder import (
    RECORDED_BACKENDS,
    EmbedderConfig,
    choose_backend,
    get_embedder,
    load_embedder,
    resolve_model_path,
    token_batches,
)

ROOT = Path(__file__).resolve().parents[3]


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


def test_backend_defaults_to_auto_and_the_config_stays_hashable():
    assert EmbedderConfig().backend == "auto"
    assert EmbedderConfig().cache_dir is None
    configs = {EmbedderConfig(), EmbedderConfig(backend="onnx", cache_dir="/x"),
               EmbedderConfig(backend="onnx", cache_dir="/x")}
    assert len(configs) == 2


@pytest.mark.parametrize("name", ["tensorrt", "ONNX", "onnx_int8", ""])
def test_an_unknown_backend_is_refused_with_the_allowed_values(name):
    with pytest.raises(ValueError,
                       match="allowed values: auto, torch, onnx, onnx-int8, openvino-bf16"):
        EmbedderConfig(backend=name)


# ----- the backend chosen per model -----------------------------------------------------

@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(embedder_module, "_gpu_present", lambda: False)


def test_auto_takes_the_backend_recorded_for_the_model(no_gpu):
    assert choose_backend(EmbedderConfig()) == RECORDED_BACKENDS["all-MiniLM-L6-v2"]
    assert choose_backend(EmbedderConfig(model="sentence-transformers/all-MiniLM-L6-v2")) \
        == RECORDED_BACKENDS["sentence-transformers/all-MiniLM-L6-v2"]


def test_a_model_with_no_recorded_choice_runs_on_onnx_fp32(no_gpu, tmp_path):
    # A copy of the packaged model under another name: nothing recorded for it, and a
    # pipeline (Transformer, mean Pooling, Normalize) the ONNX path reproduces.
    copy = tmp_path / "my-model"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), copy)
    assert choose_backend(EmbedderConfig(model=str(copy))) == "onnx"
    # With a Dense layer after pooling, the ONNX path would not give the model's vectors.
    modules = json.loads((copy / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense",
                       "type": "sentence_transformers.models.Dense"})
    (copy / "modules.json").write_text(json.dumps(modules))
    assert choose_backend(EmbedderConfig(model=str(copy))) == "torch"


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8", "openvino-bf16"])
def test_a_configured_backend_overrides_the_recorded_choice(no_gpu, backend):
    assert choose_backend(EmbedderConfig(backend=backend)) == backend


def test_auto_stays_on_torch_where_a_gpu_is_present(monkeypatch):
    monkeypatch.setattr(embedder_module, "_gpu_present", lambda: True)
    assert choose_backend(EmbedderConfig()) == "torch"
    assert choose_backend(EmbedderConfig(device="cpu")) == RECORDED_BACKENDS["all-MiniLM-L6-v2"]


@pytest.fixture
def cpu_flags(monkeypatch, no_gpu):
    """Mocked: the CPU's feature flags (whether a machine multiplies bf16 natively is its
    draw, not the test's); each test's choices are made afresh and forgotten after it."""
    flags: set[str] = set()
    monkeypatch.setattr(embedder_module, "_cpu_flags", lambda: flags)
    embedder_module._resolved.cache_clear()
    yield flags
    embedder_module._resolved.cache_clear()


@pytest.mark.parametrize("bf16_flag", ["amx_bf16", "avx512_bf16"])
def test_bulk_passages_take_bf16_on_a_cpu_with_bf16_products_and_queries_never(
        cpu_flags, tmp_path, bf16_flag):
    recorded = RECORDED_BACKENDS["all-MiniLM-L6-v2"]
    assert choose_backend(EmbedderConfig(), bulk=True) == recorded  # no bf16: as queries
    cpu_flags.update({"avx2", "avx512f", "avx512_vnni"})  # AVX-512 without bf16 products
    assert choose_backend(EmbedderConfig(), bulk=True) == recorded
    cpu_flags.add(bf16_flag)
    assert choose_backend(EmbedderConfig(), bulk=True) == "openvino-bf16"
    assert choose_backend(EmbedderConfig()) == recorded  # a query never loads torch
    assert choose_backend(EmbedderConfig(backend="onnx"), bulk=True) == "onnx"  # configured
    # A model not measured in bf16 keeps its backend for passages too.
    copy = tmp_path / "unmeasured"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), copy)
    assert choose_backend(EmbedderConfig(model=str(copy)), bulk=True) == "onnx"


def test_queries_and_bulk_passages_share_the_loaded_model_where_the_choice_agrees(
        cpu_flags):
    assert get_embedder(bulk=True) is get_embedder()
    cpu_flags.add("amx_bf16")
    embedder_module._resolved.cache_clear()
    bulk = get_embedder(bulk=True)
    assert bulk.backend == "openvino-bf16" and bulk is not get_embedder()


def test_threads_asking_for_a_model_being_loaded_wait_for_that_one_load(monkeypatch,
                                                                        onnx_cache):
    """Ingestion loads a group's embedder ahead in a thread; a search or the group's
    embedding asking meanwhile must not load a second copy."""
    loads: list[EmbedderConfig] = []
    load = embedder_module.load_embedder

    def slow_counted_load(config):
        loads.append(config)
        time.sleep(0.3)  # a load long enough for every thread to ask during it
        return load(config)

    monkeypatch.setattr(embedder_module, "load_embedder", slow_counted_load)
    config = EmbedderConfig(backend="onnx", cache_dir=str(onnx_cache), batch_size=7)
    with ThreadPoolExecutor(max_workers=4) as pool:
        embedders = list(pool.map(lambda _: get_embedder(config), range(4)))
    assert len(loads) == 1
    assert all(e is embedders[0] for e in embedders)


def test_the_default_embedder_runs_on_the_recorded_backend(embedder, no_gpu):
    assert embedder.backend == choose_backend(EmbedderConfig())


# ----- batches sized by tokens ----------------------------------------------------------

def test_token_batches_put_similar_lengths_together_within_the_budget():
    lengths = [10, 250, 12, 240, 11, 60, 255, 9]
    batches = token_batches(lengths, max_batch_tokens=512, max_batch_size=32)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        # Padded to its longest member, a batch stays within the budget...
        assert max(lengths[i] for i in batch) * len(batch) <= 512
    # ...so the long passages go two by two and the short ones share one batch.
    assert [sorted(lengths[i] for i in batch) for batch in batches] == \
        [[250, 255], [60, 240], [9, 10, 11, 12]]


def test_token_batches_respect_the_count_limit_and_keep_an_oversized_text():
    assert token_batches([5] * 10, max_batch_tokens=10_000, max_batch_size=4) == \
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert token_batches([900, 3], max_batch_tokens=512, max_batch_size=8) == [[0], [1]]
    assert token_batches([], max_batch_tokens=512, max_batch_size=8) == []


def test_batching_by_tokens_gives_the_vectors_of_one_text_at_a_time(onnx_cache):
    texts = ["short", *SENTENCES, "a bit longer sentence about PostgreSQL backups"]
    tiny = load_embedder(EmbedderConfig(backend="onnx", cache_dir=str(onnx_cache),
                                        max_batch_tokens=64))
    one_by_one = np.vstack([tiny.embed_passages([t]) for t in texts])
    np.testing.assert_allclose(tiny.embed_passages(texts), one_by_one, atol=1e-5)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed, so the ONNX "
                        "backends cannot run: pip install onnxruntime onnx")
    pytest.importorskip("onnx", reason="the onnx package (needed to export) is not installed")
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_embedder():
    return get_embedder(EmbedderConfig(backend="torch"))


def test_onnx_backend_matches_torch_and_exports_into_the_given_cache(torch_embedder,
                                                                     onnx_cache):
    onnx = get_embedder(EmbedderConfig(backend="onnx", cache_dir=str(onnx_cache)))
    vectors = onnx.embed_passages(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # The same model: tokenised, pooled and normalised outside torch, the same vectors.
    np.testing.assert_allclose(vectors, torch_embedder.embed_passages(SENTENCES), atol=1e-4)
    np.testing.assert_allclose(onnx.embed_query("hello"), torch_embedder.embed_query("hello"),
                               atol=1e-4)
    # Same tokenizer, so the chunker's budget does not depend on the backend: the long
    # passage (over 256 tokens) is counted whole, not cut at the model's limit.
    assert onnx.count_tokens(SENTENCES[3]) == torch_embedder.count_tokens(SENTENCES[3]) > 256
    assert onnx.max_tokens == torch_embedder.max_tokens == 256
    assert onnx.embed_passages([]).shape == (0, 384)
    graphs = list(onnx_cache.rglob("model.onnx"))
    assert len(graphs) == 1


def test_onnx_export_is_reused_not_redone(onnx_cache):
    config = EmbedderConfig(backend="onnx", cache_dir=str(onnx_cache))
    get_embedder(config)
    [graph] = onnx_cache.rglob("model.onnx")
    before = graph.stat().st_mtime_ns
    load_embedder(config)  # a fresh load, as in another worker process
    assert graph.stat().st_mtime_ns == before
    assert [p.name for p in onnx_cache.rglob("*") if p.name.startswith(".")] == []


def test_bf16_backend_gives_torchs_vectors_within_rounding(torch_embedder, onnx_cache):
    config = EmbedderConfig(backend="openvino-bf16", cache_dir=str(onnx_cache))
    if not embedder_module.BF16_CPU_FLAGS & embedder_module._cpu_flags():
        with pytest.raises(ValueError, match="needs a CPU with bf16 products"):
            load_embedder(config)  # it would run fp32 under the bf16 backend's name
        return
    bf16 = load_embedder(config)
    vectors = bf16.embed_passages(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # bf16 products with fp32 accumulation: far closer than int8 (whose minimum on real
    # passages is about 0.987), so stored passages and fp32 queries still meet.
    assert _cosines(vectors, torch_embedder.embed_passages(SENTENCES)).min() > 0.9995
    assert bf16.count_tokens(SENTENCES[3]) == torch_embedder.count_tokens(SENTENCES[3])
    assert bf16.max_tokens == torch_embedder.max_tokens
    assert bf16.embed_passages([]).shape == (0, 384)


def test_the_openvino_backend_never_starts_openvinos_usage_statistics(onnx_cache, tmp_path):
    """`import openvino` starts a telemetry client (openvino_telemetry) that writes a
    client id under ~/intel and reports the import to Google Analytics; Citewise's data
    and its use stay inside. A fresh interpreter (the import happens once per process),
    with a home folder of its own, loads the backend and embeds."""
    pytest.importorskip("openvino")
    script = (
        "import sys\n"
        "from retrieval.embedder import EmbedderConfig, load_embedder\n"
        f"config = EmbedderConfig(backend='openvino-bf16', cache_dir={str(onnx_cache)!r})\n"
        "try:\n"
        "    load_embedder(config).embed_passages(['The printer is on the third floor.'])\n"
        "except ValueError:\n"  # a CPU without bf16 products: refused after the import
        "    pass\n"
        "assert 'openvino' in sys.modules\n"
        "print(sys.modules['openvino.tools.ovc.telemetry_utils'].tm.__name__)\n")
    home = tmp_path / "home"
    home.mkdir()
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "HOME": str(home), "CI": ""},
                         timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[-1] == "openvino.tools.ovc.telemetry_stub"
    assert list(home.iterdir()) == []  # no ~/intel/openvino_ga_cid, no stats


def test_int8_backend_stays_close_to_torch(torch_embedder, onnx_cache):
    int8 = get_embedder(EmbedderConfig(backend="onnx-int8", cache_dir=str(onnx_cache)))
    cosines = _cosines(int8.embed_passages(SENTENCES), torch_embedder.embed_passages(SENTENCES))
    # Quantised weights: close, not equal (the retrieval benchmark measures what it costs).
    assert cosines.min() > 0.95
    assert len(list(onnx_cache.rglob("model.onnx"))) == 2  # fp32, then int8 from it
