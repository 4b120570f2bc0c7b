"""The vector store contract (retrieval.stores.VectorIndex), held to by both backends:
FAISS files (the default) and Milvus (here Milvus Lite, standing in for a Milvus
server). FAISS-only behaviour (files, layouts, manifests on disk) is in
test_vector_store.py."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from retrieval.errors import IndexMismatch, IndexMissing, SourceChanged
from retrieval.stores import VectorIndex
from retrieval.vector_store import VectorStore
from tests.unit.retrieval.conftest import unit_vectors

MODEL = "test-model"


@pytest.fixture(params=["faiss", "milvus"])
def store(request, tmp_path) -> VectorIndex:
    if request.param == "faiss":
        return VectorStore(tmp_path)
    from retrieval.milvus_store import MilvusVectorStore
    from tests.milvus_server import drop_collections

    uri = request.getfixturevalue("milvus_uri")
    prefix = f"t{uuid.uuid4().hex[:12]}_"  # this test's own collections
    request.addfinalizer(lambda: drop_collections(uri, prefix))
    return MilvusVectorStore(uri, lock_root=tmp_path, prefix=prefix)


def top_ids(store: VectorIndex, query: np.ndarray, k: int = 3, **kw) -> list[int]:
    return store.search("kb-1", query, k, model=MODEL, **kw)[0].tolist()


def test_added_vectors_are_found_by_their_chunk_ids_best_first(store):
    vectors = unit_vectors(20)
    store.add("kb-1", np.arange(100, 120), vectors, model=MODEL)
    ids, scores = store.search("kb-1", vectors[7], 3, model=MODEL)
    assert ids[0] == 107
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True)
    assert store.manifest("kb-1") | {"model": MODEL, "dimension": 8, "count": 20} == \
        store.manifest("kb-1")


def test_remove_and_upsert_by_id(store):
    vectors = unit_vectors(10)
    store.add("kb-1", np.arange(10), vectors, model=MODEL)
    store.remove("kb-1", [3, 999])  # an unknown id is ignored
    assert 3 not in top_ids(store, vectors[3], k=10)
    manifest = store.upsert("kb-1", [5], vectors[3:4], model=MODEL)  # 5 moves to 3's place
    assert top_ids(store, vectors[3], k=1) == [5]
    assert manifest["count"] == 9


def test_adding_an_existing_id_is_refused_rather_than_duplicated(store):
    store.add("kb-1", [1, 2], unit_vectors(2), model=MODEL)
    with pytest.raises(ValueError, match="already indexed"):
        store.add("kb-1", [2], unit_vectors(1, seed=5), model=MODEL)
    assert store.manifest("kb-1")["count"] == 2


def test_knowledge_bases_are_apart(store):
    vectors = unit_vectors(4)
    store.add("kb-1", [1, 2], vectors[:2], model=MODEL)
    store.add("kb-2", [3, 4], vectors[2:], model=MODEL)
    assert set(top_ids(store, vectors[2], k=10)) == {1, 2}
    store.delete("kb-2")
    with pytest.raises(IndexMissing):
        store.search("kb-2", vectors[2], 1, model=MODEL)
    assert top_ids(store, vectors[0], k=1) == [1]


def test_a_missing_index_is_built_from_the_source_once(store):
    vectors = unit_vectors(5)
    with pytest.raises(IndexMissing):
        store.search("kb-1", vectors[0], 3, model=MODEL)
    calls = []

    def from_database():
        calls.append(1)
        return np.arange(5), vectors

    assert top_ids(store, vectors[2], k=1, source=from_database) == [2]
    assert top_ids(store, vectors[2], k=1, source=from_database) == [2]
    assert calls == [1]


def test_an_index_of_another_model_is_rebuilt_not_misused(store):
    store.rebuild("kb-1", np.arange(4), unit_vectors(4, dim=8), "old-model")
    with pytest.raises(IndexMismatch):
        store.search("kb-1", unit_vectors(1)[0], 1, model=MODEL)
    new_vectors = unit_vectors(4, dim=16, seed=3)
    assert top_ids(store, new_vectors[1], k=1,
                   source=lambda: (np.arange(4), new_vectors)) == [1]
    assert store.manifest("kb-1")["model"] == MODEL
    assert store.manifest("kb-1")["dimension"] == 16


def test_a_source_holding_another_models_vectors_never_relabels_the_index(store):
    new_vectors = unit_vectors(4, dim=16, seed=3)
    store.rebuild("kb-1", np.arange(4), new_vectors, "new-model")
    with pytest.raises(SourceChanged):
        store.search("kb-1", unit_vectors(1, dim=8)[0], 1, model=MODEL,
                     source=lambda: (np.arange(4), new_vectors))
    assert store.manifest("kb-1")["model"] == "new-model"


def test_a_write_to_a_mismatched_index_rebuilds_from_the_source_plus_the_new_rows(store):
    vectors = unit_vectors(6)
    store.rebuild("kb-1", np.arange(5), vectors[:5], "old-model")
    store.add("kb-1", [5], vectors[5:], model=MODEL, source=lambda: (np.arange(6), vectors))
    assert store.manifest("kb-1")["count"] == 6
    assert top_ids(store, vectors[5], k=1) == [5]


def test_a_rebuild_replaces_everything(store):
    vectors = unit_vectors(8)
    store.add("kb-1", np.arange(8), vectors, model=MODEL)
    store.rebuild("kb-1", np.arange(100, 103), vectors[:3], MODEL)
    assert sorted(top_ids(store, vectors[0], k=10)) == [100, 101, 102]


def test_knowledge_base_keys_cannot_escape(store):
    with pytest.raises(ValueError, match="invalid"):
        store.add("../etc", [1], unit_vectors(1), model=MODEL)
