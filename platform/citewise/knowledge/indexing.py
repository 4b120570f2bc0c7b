"""The bridge from knowledge bases in the database to their index files (retrieval/).

Indexes are derived data: when one is missing, corrupt or built with another model,
retrieval rebuilds it from the sources below, which read the database. Vector indexes
live where CITEWISE_VECTOR_STORE says (FAISS files here, or Milvus shared by all nodes);
lexical files are always this node's, kept up to date against the database's
KnowledgeBase.index_version (refresh_local_indexes).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from functools import cache

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F

from citewise.knowledge.models import Chunk, DocumentStatus, IndexRemoval, KnowledgeBase
from retrieval.embedder import EmbedderConfig, TextEmbedder, get_embedder
from retrieval.errors import IndexUnavailable, SourceChanged
from retrieval.lexical import LexicalStore
from retrieval.stores import VectorIndex, VectorStoreChoice, open_vector_store


@cache
def vector_store() -> VectorIndex:
    return vector_store_for(settings.VECTOR_STORE)


def vector_store_for(choice: VectorStoreChoice) -> VectorIndex:
    """The vector store `choice` names (the configured one is vector_store())."""
    return open_vector_store(choice, index_dir=settings.INDEX_DIR,
                             milvus_index_type=settings.MILVUS_INDEX_TYPE)


@cache
def lexical_store() -> LexicalStore:
    return LexicalStore(settings.INDEX_DIR)


def embedder_config(kb: KnowledgeBase) -> EmbedderConfig:
    return EmbedderConfig(model=kb.embedding_model, query_prefix=kb.query_prefix,
                          passage_prefix=kb.passage_prefix,
                          batch_size=settings.EMBED_BATCH_SIZE,
                          max_batch_tokens=settings.EMBED_MAX_BATCH_TOKENS,
                          backend=settings.EMBEDDING_BACKEND,
                          cache_dir=str(settings.ONNX_CACHE_DIR))


def embedder_for(kb: KnowledgeBase, model: str | None = None, *,
                 bulk: bool = False) -> TextEmbedder:
    """The knowledge base's embedder, or the one of `model` (a re-embedding's target);
    `bulk` for its passages embedded many at once (retrieval.embedder.get_embedder)."""
    config = embedder_config(kb)
    return get_embedder(dataclasses.replace(config, model=model) if model else config,
                        bulk=bulk)


def chunk_budget(kb: KnowledgeBase) -> int:
    """Tokens one passage may hold: CITEWISE_CHUNK_TOKENS, or fewer where the model reads
    fewer (at most max_tokens including its two special tokens and the passage prefix;
    a longer chunk would be embedded without its end)."""
    embedder = embedder_for(kb)
    room = embedder.max_tokens - 2 - embedder.count_tokens(kb.passage_prefix)
    return min(settings.CHUNK_TOKENS, room)


def searchable_chunks(kb: KnowledgeBase):
    """Chunks a search may return: those of indexed documents only. Flipping a document
    to indexed (and deleting the version it replaces) in one transaction is what makes a
    new version appear atomically."""
    return Chunk.objects.filter(knowledge_base=kb, document__status=DocumentStatus.INDEXED)


def embedding_source(kb: KnowledgeBase) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The knowledge base's stored (ids, vectors), for rebuilding its index. Raises
    SourceChanged when its embedding model is no longer the one `kb` was read with (a
    re-embedding swapped it meanwhile): those vectors belong to another index."""

    def load() -> tuple[np.ndarray, np.ndarray]:
        current = KnowledgeBase.objects.filter(pk=kb.pk).values_list("embedding_model",
                                                                       flat=True).first()
        if current is not None and current != kb.embedding_model:
            raise SourceChanged(f"{kb.index_key}: the model is now {current}, "
                                f"not {kb.embedding_model}")
        rows = list(searchable_chunks(kb).exclude(embedding=None)
                    .values_list("pk", "embedding").iterator(chunk_size=2000))
        if not rows:  # only an empty index needs the model, for its dimension
            dimension = embedder_for(kb).dimension
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


def texts_of(ids: list[int]) -> list[str]:
    """Texts of these chunks, in the order of `ids` (all must exist)."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), 2000):
        found.update(Chunk.objects.filter(pk__in=ids[start:start + 2000])
                     .values_list("pk", "text"))
    return [found[chunk_id] for chunk_id in ids]


def searchable_set_changed(kb: KnowledgeBase) -> None:
    """Count a change of which chunks `kb` serves (a document published or deleted), so
    every node's local index files see they are behind. Call inside the transaction that
    makes the change, after its other writes (rows before the knowledge base's row, the
    order every such transaction locks in)."""
    KnowledgeBase.objects.filter(pk=kb.pk).update(index_version=F("index_version") + 1)


def refresh_local_indexes(kb: KnowledgeBase) -> None:
    """Bring this node's lexical files up to `kb.index_version`, which the caller read
    (with `kb`) before this call: a node answers at once from a document that another
    node's worker ingested. Costs nothing when the files are current."""
    lexical_store().catch_up(
        kb.index_key, kb.index_version, texts_of=texts_of, source=text_source(kb),
        live_ids=lambda: list(searchable_chunks(kb).values_list("pk", flat=True)))


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


def forget_chunks(kb: KnowledgeBase, chunk_ids: list[int]) -> None:
    """Take these chunks out of the knowledge base's indexes once the caller's
    transaction (which deletes their rows) commits; call it inside that transaction."""
    if chunk_ids:
        _remove_on_commit(IndexRemoval.objects.create(index_key=kb.index_key,
                                                      chunk_ids=list(chunk_ids)))
        searchable_set_changed(kb)


def forget_indexes(index_key: str) -> None:
    """Delete a knowledge base's index files once the caller's transaction (which deletes
    the knowledge base) commits; call it inside that transaction."""
    _remove_on_commit(IndexRemoval.objects.create(index_key=index_key, chunk_ids=None))


def _remove_on_commit(removal: IndexRemoval) -> None:
    # robust: a failure (a held lock) is logged, not raised into a deletion that has
    # committed; the row stays and the reconciler applies it later.
    transaction.on_commit(lambda: apply_removal(removal), robust=True)


def apply_removal(removal: IndexRemoval) -> None:
    """Change the index files as `removal` says, then drop it. Safe to repeat."""
    if removal.chunk_ids is None:
        vector_store().delete(removal.index_key)
        lexical_store().delete(removal.index_key)
    else:
        for store in (vector_store(), lexical_store()):
            # No usable index: nothing to remove, and a rebuild reads only live chunks.
            with contextlib.suppress(IndexUnavailable):
                store.remove(removal.index_key, removal.chunk_ids)
    IndexRemoval.objects.filter(pk=removal.pk).delete()


def apply_removals() -> int:
    """Apply the removals a process left when it died after its deletion committed;
    returns how many."""
    removals = list(IndexRemoval.objects.all())
    for removal in removals:
        apply_removal(removal)
    return len(removals)


def rebuild_indexes(kb: KnowledgeBase, *, vectors: VectorIndex | None = None) -> int:
    """Rebuild both indexes from the database's stored embeddings and texts (nothing is
    re-embedded), the vectors into `vectors` (default: the configured store, e.g.
    vector_store_for(a choice) to move to another backend); returns the chunk count."""
    version = KnowledgeBase.objects.values_list("index_version", flat=True).get(pk=kb.pk)
    ids, embeddings = embedding_source(kb)()
    (vectors or vector_store()).rebuild(kb.index_key, ids, embeddings, kb.embedding_model)
    text_ids, texts = text_source(kb)()
    lexical_store().rebuild(kb.index_key, text_ids, texts, source_version=version)
    return len(ids)


def embed_and_store(embedder: TextEmbedder, chunks: list[Chunk],
                    field: str = "embedding") -> None:
    """Embeds the chunks' texts as passages and stores each vector (float32 bytes) in
    `field` (embedding, or next_embedding while a re-embedding is under way), in one
    UPDATE."""
    vectors = embedder.embed_passages([chunk.text for chunk in chunks])
    for chunk, vector in zip(chunks, vectors, strict=True):
        setattr(chunk, field, np.asarray(vector, dtype=np.float32).tobytes())
    Chunk.objects.bulk_update(chunks, [field])


def embed_next(kb: KnowledgeBase, model: str, *,
               heartbeat: Callable[[], None] | None = None) -> int:
    """Embed every chunk still without a `next_embedding` with `model`, batch by batch,
    longest first as ingestion embeds (a forward pass pads its texts to the longest), a
    rerun resuming where one stopped; calls `heartbeat` after each batch and returns how
    many it embedded. Chunks added meanwhile are embedded in a further pass. The served
    index is untouched."""
    embedder = embedder_for(kb, model, bulk=True)
    size = settings.EMBED_BATCH_SIZE
    done = 0
    while pending := list(Chunk.objects.filter(knowledge_base=kb, next_embedding=None)
                          .order_by("-token_count", "pk").values_list("pk", flat=True)):
        for first in range(0, len(pending), size):
            # A chunk deleted since the listing (its document was) is skipped.
            batch = list(Chunk.objects.filter(pk__in=pending[first:first + size],
                                              next_embedding=None)
                         .order_by("-token_count", "pk").only("pk", "text", "token_count"))
            if batch:
                embed_and_store(embedder, batch, "next_embedding")
                done += len(batch)
            if heartbeat is not None:
                heartbeat()
    return done


def swap_embeddings(kb: KnowledgeBase, model: str) -> None:
    """Make `model` the knowledge base's model: its vectors replace the old ones in one
    UPDATE. The caller holds the knowledge base's row lock, made sure no chunk lacks its
    next_embedding (embed_next) and rebuilds the index after commit: a search in
    between embeds with the new model, finds the old index's manifest naming the old
    one, and rebuilds the index from the database itself."""
    Chunk.objects.filter(knowledge_base=kb).update(embedding=F("next_embedding"),
                                                   next_embedding=None)
    kb.embedding_model = model
    kb.pending_embedding_model = ""
    kb.save(update_fields=["embedding_model", "pending_embedding_model"])
