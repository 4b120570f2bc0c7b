"""The bridge from knowledge bases in the database to their index files (retrieval/).

Index files are derived data: when one is missing, corrupt or built with another model,
retrieval rebuilds it from the sources below, which read the database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from functools import cache

import numpy as np
from django.conf import settings

from citewise.knowledge.models import Chunk, DocumentStatus, KnowledgeBase
from retrieval.embedder import EmbedderConfig, TextEmbedder, get_embedder
from retrieval.errors import IndexUnavailable
from retrieval.lexical import LexicalStore
from retrieval.vector_store import VectorStore


@cache
def vector_store() -> VectorStore:
    return VectorStore(settings.INDEX_DIR)


@cache
def lexical_store() -> LexicalStore:
    return LexicalStore(settings.INDEX_DIR)


def embedder_config(kb: KnowledgeBase) -> EmbedderConfig:
    return EmbedderConfig(model=kb.embedding_model, query_prefix=kb.query_prefix,
                          passage_prefix=kb.passage_prefix,
                          batch_size=settings.EMBED_BATCH_SIZE,
                          backend=settings.EMBEDDING_BACKEND,
                          cache_dir=str(settings.ONNX_CACHE_DIR))


def embedder_for(kb: KnowledgeBase) -> TextEmbedder:
    return get_embedder(embedder_config(kb))


def searchable_chunks(kb: KnowledgeBase):
    """Chunks a search may return: those of indexed documents only. Flipping a document
    to indexed (and deleting the version it replaces) in one transaction is what makes a
    new version appear atomically."""
    return Chunk.objects.filter(knowledge_base=kb, document__status=DocumentStatus.INDEXED)


def embedding_source(kb: KnowledgeBase) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        rows = list(searchable_chunks(kb).exclude(embedding=None)
                    .values_list("pk", "embedding").iterator(chunk_size=2000))
        dimension = embedder_for(kb).dimension
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dimension), dtype=np.float32)
        ids = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
        vectors = np.vstack([np.frombuffer(bytes(blob), dtype=np.float32) for _, blob in rows])
        return ids, vectors

    return load


def text_source(kb: KnowledgeBase) -> Callable[[], tuple[list[int], list[str]]]:
    def load() -> tuple[list[int], list[str]]:
        rows = list(searchable_chunks(kb).values_list("pk", "text").iterator(chunk_size=2000))
        return [pk for pk, _ in rows], [text for _, text in rows]

    return load


def index_chunks(kb: KnowledgeBase, chunks: Iterable[Chunk]) -> None:
    """Add (or replace) these chunks in the knowledge base's vector and lexical indexes."""
    chunks = list(chunks)
    if not chunks:
        return
    ids = np.array([chunk.pk for chunk in chunks], dtype=np.int64)
    vectors = np.vstack([chunk.vector() for chunk in chunks])
    vector_store().upsert(kb.index_key, ids, vectors, model=kb.embedding_model,
                          source=embedding_source(kb))
    lexical_store().upsert(kb.index_key, ids.tolist(), [chunk.text for chunk in chunks],
                           source=text_source(kb))


def unindex_chunks(kb: KnowledgeBase, chunk_ids: list[int]) -> None:
    if not chunk_ids:
        return
    for store in (vector_store(), lexical_store()):
        # No usable index: nothing to remove, and a rebuild reads only live chunks.
        with contextlib.suppress(IndexUnavailable):
            store.remove(kb.index_key, chunk_ids)


def delete_indexes(index_key: str) -> None:
    vector_store().delete(index_key)
    lexical_store().delete(index_key)


def rebuild_indexes(kb: KnowledgeBase) -> int:
    """Rebuild both indexes from the database; returns the number of chunks indexed."""
    ids, vectors = embedding_source(kb)()
    vector_store().rebuild(kb.index_key, ids, vectors, kb.embedding_model)
    text_ids, texts = text_source(kb)()
    lexical_store().rebuild(kb.index_key, text_ids, texts)
    return len(ids)
