"""Moving a deployment between vector stores, and two nodes sharing Milvus.

Milvus is a Milvus Lite server on a TCP port (tests/milvus_server.py), standing in for
Milvus standalone. A "node" is an index directory of its own (its BM25 files and FAISS
files, if any) with the shared database and Milvus: the test switches between two such
directories in one process, which is what two web processes on two machines see.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from citewise.knowledge import indexing, search
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import delete_document
from retrieval.embedder import TextEmbedder
from retrieval.stores import parse_vector_store
from tests.factories import load_document, make_kb

pytestmark = pytest.mark.django_db(transaction=True)

VALVES = "# Valves\n\nThe pressure valve V7 is checked every Tuesday by the night shift."
PUMPS = "# Pumps\n\nThe coolant pump P3 is greased every second month with lithium grease."


@contextlib.contextmanager
def node(index_dir: Path, store: str) -> Iterator[None]:
    """Run the body as a node with its own index directory and this vector store."""
    stores = (indexing.vector_store, indexing.lexical_store, search.searcher)
    for cached in stores:
        cached.cache_clear()
    try:
        with override_settings(INDEX_DIR=index_dir, VECTOR_STORE=parse_vector_store(store)):
            yield
    finally:
        for cached in stores:
            cached.cache_clear()


def found(query: str) -> dict[str, dict]:
    """Document name -> scores of its best passage, for a search as the system."""
    passages = search.search(SYSTEM, query, k=5)
    best: dict[str, dict] = {}
    for passage in passages:
        best.setdefault(passage.document, passage.scores)
    return best


def test_rebuild_indexes_moves_a_deployment_to_milvus_and_back_without_re_embedding(
        tmp_path, milvus_uri, monkeypatch):
    kb = make_kb("plant")
    with node(tmp_path / "n1", "faiss"):
        load_document(kb, "valves.md", VALVES)
        load_document(kb, "pumps.md", PUMPS)
        on_faiss = found("When is the pressure valve checked?")

    def no_embedding(*args, **kwargs):
        raise AssertionError("the move re-embedded passages")

    monkeypatch.setattr(TextEmbedder, "embed_passages", no_embedding)
    milvus = f"milvus:{milvus_uri}"
    with node(tmp_path / "n1", "faiss"):
        call_command("rebuild_indexes", "--backend", milvus)
    with node(tmp_path / "n1", milvus):
        assert indexing.vector_store().manifest(kb.index_key)["count"] == \
            indexing.searchable_chunks(kb).count()
        on_milvus = found("When is the pressure valve checked?")
        assert list(on_milvus) == list(on_faiss)
        assert on_milvus["valves.md"]["dense"] == pytest.approx(
            on_faiss["valves.md"]["dense"], abs=1e-4)
        # ...and back, into a FAISS directory that never held this knowledge base.
        call_command("rebuild_indexes", "--backend", "faiss")
    with node(tmp_path / "n1", "faiss"):
        assert list(found("When is the pressure valve checked?")) == list(on_faiss)


def test_a_node_answers_at_once_from_documents_another_node_ingested(tmp_path, milvus_uri):
    milvus = f"milvus:{milvus_uri}"
    kb = make_kb("plant")
    with node(tmp_path / "a", milvus):
        load_document(kb, "valves.md", VALVES)
    with node(tmp_path / "b", milvus):  # its first search: no local files yet
        assert found("pressure valve V7")["valves.md"]["lexical"] is not None
    with node(tmp_path / "a", milvus):
        pumps = load_document(kb, "pumps.md", PUMPS)
    with node(tmp_path / "b", milvus):  # its files are behind: it catches up
        scores = found("coolant pump P3 grease")["pumps.md"]
        assert scores["dense"] is not None and scores["lexical"] is not None
        kb.refresh_from_db()
        assert indexing.lexical_store().manifest(kb.index_key)["source_version"] == \
            kb.index_version
    with node(tmp_path / "a", milvus):
        delete_document(SYSTEM, pumps)
    with node(tmp_path / "b", milvus):
        assert "pumps.md" not in found("coolant pump P3 grease")
        kb.refresh_from_db()
        live = indexing.searchable_chunks(kb).count()
        assert indexing.lexical_store().manifest(kb.index_key)["count"] == live
        assert indexing.vector_store().manifest(kb.index_key)["count"] == live
