from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.errors import IndexCorrupt, IndexMismatch, IndexMissing, SourceChanged
from retrieval.vector_store import VectorStore
from tests.unit.retrieval.conftest import unit_vectors

MODEL = "test-model"


def top_ids(store: VectorStore, kb: str, query: np.ndarray, k: int = 3, **kw) -> list[int]:
    return store.search(kb, query, k, model=MODEL, **kw)[0].tolist()


def test_added_vectors_are_found_by_their_chunk_ids(tmp_path):
    store = VectorStore(tmp_path)
    vectors = unit_vectors(20)
    store.add("kb", np.arange(100, 120), vectors, model=MODEL)
    ids, scores = store.search("kb", vectors[7], 3, model=MODEL)
    assert ids[0] == 107
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True)


def test_remove_and_upsert_by_id(tmp_path):
    store = VectorStore(tmp_path)
    vectors = unit_vectors(10)
    store.add("kb", np.arange(10), vectors, model=MODEL)
    store.remove("kb", [3])
    assert 3 not in top_ids(store, "kb", vectors[3], k=10)
    # Upsert moves chunk 5 to where chunk 3 used to be.
    manifest = store.upsert("kb", [5], vectors[3:4], model=MODEL)
    assert top_ids(store, "kb", vectors[3], k=1) == [5]
    assert manifest["count"] == 9


def test_adding_an_existing_id_is_refused_rather_than_duplicated(tmp_path):
    store = VectorStore(tmp_path)
    store.add("kb", [1, 2], unit_vectors(2), model=MODEL)
    with pytest.raises(ValueError, match="already indexed"):
        store.add("kb", [2], unit_vectors(1, seed=5), model=MODEL)
    assert store.manifest("kb")["count"] == 2


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


def test_missing_index_raises_a_specific_error_or_is_built_from_the_source(tmp_path):
    store = VectorStore(tmp_path)
    vectors = unit_vectors(5)
    with pytest.raises(IndexMissing):
        store.search("kb", vectors[0], 3, model=MODEL)
    calls = []

    def from_database():
        calls.append(1)
        return np.arange(5), vectors

    assert top_ids(store, "kb", vectors[2], k=1, source=from_database) == [2]
    assert top_ids(store, "kb", vectors[2], k=1, source=from_database) == [2]
    assert calls == [1]  # rebuilt once, then served from the saved index


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


def test_index_of_another_model_or_dimension_is_rebuilt_not_misused(tmp_path):
    store = VectorStore(tmp_path)
    store.rebuild("kb", np.arange(4), unit_vectors(4, dim=8), "old-model")
    with pytest.raises(IndexMismatch):
        store.search("kb", unit_vectors(1)[0], 1, model=MODEL)
    new_vectors = unit_vectors(4, dim=16, seed=3)
    ids = top_ids(store, "kb", new_vectors[1], k=1, source=lambda: (np.arange(4), new_vectors))
    assert ids == [1]
    assert store.manifest("kb")["model"] == MODEL and store.manifest("kb")["dimension"] == 16


def test_a_source_holding_another_models_vectors_never_relabels_the_index(tmp_path):
    """A search that read the knowledge base just before a re-embedding swapped its model
    finds the new index "of another model"; rebuilding it from the database (already the
    new vectors) under the old name broke every later search with a dimension error."""
    store = VectorStore(tmp_path)
    new_vectors = unit_vectors(4, dim=16, seed=3)
    store.rebuild("kb", np.arange(4), new_vectors, "new-model")
    with pytest.raises(SourceChanged):
        store.search("kb", unit_vectors(1, dim=8)[0], 1, model=MODEL,
                     source=lambda: (np.arange(4), new_vectors))
    assert store.manifest("kb")["model"] == "new-model"
    assert store.search("kb", new_vectors[2], 1, model="new-model")[0].tolist() == [2]


def test_write_to_a_corrupt_index_rebuilds_from_the_source_plus_the_new_rows(tmp_path):
    store = VectorStore(tmp_path)
    vectors = unit_vectors(6)
    store.rebuild("kb", np.arange(5), vectors[:5], MODEL)
    (tmp_path / "kb" / "vectors.json").write_text("[]")
    store.add("kb", [5], vectors[5:], model=MODEL, source=lambda: (np.arange(6), vectors))
    assert store.manifest("kb")["count"] == 6
    assert top_ids(store, "kb", vectors[5], k=1) == [5]


def test_knowledge_base_keys_cannot_escape_the_root(tmp_path):
    with pytest.raises(ValueError, match="invalid"):
        VectorStore(tmp_path).add("../etc", [1], unit_vectors(1), model=MODEL)
