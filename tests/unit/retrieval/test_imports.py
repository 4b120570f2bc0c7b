"""Importing the retrieval package must not load the machine-learning libraries: the web
process imports it to build requests, and only the worker and ask path need the models."""

from __future__ import annotations

from tests.helpers import modules_loaded_by


def test_importing_every_retrieval_module_loads_no_heavy_library():
    code = (
        "import retrieval, retrieval.embedder, retrieval.vector_store, retrieval.lexical,"
        " retrieval.hybrid, retrieval.rerank, retrieval.fusion,"
        " retrieval.dedupe, retrieval.bm25, retrieval.faiss_index"
    )
    heavy = ("torch", "sentence_transformers", "faiss", "transformers", "kiwipiepy")
    assert modules_loaded_by(code, heavy) == []
