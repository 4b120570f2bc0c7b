"""FAISS-only behaviour: files, versions, layouts, damaged files. The contract both vector
stores keep (ids, upserts, deletes, rebuilds from the database) is in
test_vector_backends.py, which runs it on FAISS and on Milvus."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.errors import IndexCorrupt, IndexMissing
from retrieval.vector_store import VectorStore
from tests.unit.retrieval.conftest import unit_vectors

MODEL = "test-model"


def top_ids(store: VectorStore, kb: str, query: np.ndarray, k: int = 3, **kw) -> list[int]:
    return store.search(kb, query, k, model=MODEL, **kw)[0].tolist()


def test_every_save_increments_the_manifest_version(tmp_path):
    store = VectorStore(tmp_path)
    v1 = store.add("kb", [1], unit_vectors(1), model=MODEL)["version"]
    v2 = store.upsert("kb", [1], unit_vectors(1, seed=1), model=MODEL)["version"]
    v3 = store.remove("kb", [1])["version"]
    assert (v1, v2, v3) == (1, 2, 3)
    manifest = json.loads((tmp_path / "kb" / "vectors.json").read_text())
    assert manifest | {"model": MODEL, "dimension": 8, "count": 0, "version": 3} == manifest
    # Old versions beyond the one before are pruned; the current file exists.
    assert sorted(p.name for p in (tmp_path / "kb").glob("vectors-*")) == [
        "vectors-000002.faiss", "vectors-000003.faiss"]


def test_index_switches_from_exact_to_approximate_above_the_threshold(tmp_path):
    store = VectorStore(tmp_path, exact_threshold=500)
    vectors = unit_vectors(2000, dim=16)
    assert store.add("kb", np.arange(400), vectors[:400], model=MODEL)["index_type"] == "flat"
    manifest = store.add("kb", np.arange(400, 2000), vectors[400:], model=MODEL)
    assert manifest["index_type"] == "ivf_flat" and manifest["count"] == 2000
    assert manifest["nlist"] > 0 and manifest["nprobe"] > 0
    # Approximate search still finds an exact match, and deletes work in IVF too.
    assert top_ids(store, "kb", vectors[1234], k=1) == [1234]
    store.remove("kb", [1234])
    assert 1234 not in top_ids(store, "kb", vectors[1234], k=10)
    # Shrinking well below the threshold returns to exact search.
    manifest = store.rebuild("kb", np.arange(100), vectors[:100], MODEL)
    assert manifest["index_type"] == "flat"


@pytest.mark.parametrize("damage", ["truncate_data", "garbage_manifest", "delete_data"])
def test_corrupt_index_is_rebuilt_from_the_source(tmp_path, damage):
    store = VectorStore(tmp_path)
    vectors = unit_vectors(6)
    store.rebuild("kb", np.arange(6), vectors, MODEL)
    data_file = next((tmp_path / "kb").glob("vectors-*.faiss"))
    if damage == "truncate_data":
        data_file.write_bytes(data_file.read_bytes()[:50])
    elif damage == "garbage_manifest":
        (tmp_path / "kb" / "vectors.json").write_text("{not json")
    else:
        data_file.unlink()
    fresh = VectorStore(tmp_path)  # a new process's view: nothing cached
    with pytest.raises((IndexCorrupt, IndexMissing)):
        fresh.search("kb", vectors[0], 1, model=MODEL)
    assert top_ids(fresh, "kb", vectors[4], k=1, source=lambda: (np.arange(6), vectors)) == [4]
    assert fresh.manifest("kb")["count"] == 6


def test_write_to_a_corrupt_index_rebuilds_from_the_source_plus_the_new_rows(tmp_path):
    store = VectorStore(tmp_path)
    vectors = unit_vectors(6)
    store.rebuild("kb", np.arange(5), vectors[:5], MODEL)
    (tmp_path / "kb" / "vectors.json").write_text("[]")
    store.add("kb", [5], vectors[5:], model=MODEL, source=lambda: (np.arange(6), vectors))
    assert store.manifest("kb")["count"] == 6
    assert top_ids(store, "kb", vectors[5], k=1) == [5]
