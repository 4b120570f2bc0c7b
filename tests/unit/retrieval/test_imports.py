"""Importing the retrieval package must not load the machine-learning libraries: the web
process imports it to build requests, and only the worker and ask path need the models."""

from __future__ import annotations

from tests.helpers import clean_env, run_python


def test_importing_every_retrieval_module_loads_no_heavy_library():
    code = (
        "import sys, retrieval, retrieval.embedder, retrieval.vector_store, retrieval.lexical,"
        " retrieval.tokenize, retrieval.hybrid, retrieval.rerank, retrieval.fusion,"
        " retrieval.dedupe, retrieval.bm25, retrieval.faiss_index\n"
        "heavy = ('torch', 'sentence_transformers', 'faiss', 'transformers', 'kiwipiepy')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    result = run_python(code, clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
