"""The storage interface for derived vector indexes, and the setting that picks a backend.

Two backends implement VectorIndex:
- retrieval.vector_store.VectorStore: FAISS files in the data directory (the embedded
  default, CITEWISE_VECTOR_STORE=faiss);
- retrieval.milvus_store.MilvusVectorStore: a Milvus collection per knowledge base
  (CITEWISE_VECTOR_STORE=milvus:URI), shared by every node of a deployment.

The lexical (BM25) index stays in local files beside either: Milvus's own BM25 needs an
analyzer for Korean that Milvus Lite lacks (its tokenizers: standard, jieba; no lindera
ko-dic), and our tokenizer (kiwi morphology) is what the eval sets were tuned on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # settings import this module: it stays free of numpy and FAISS
    import numpy as np

    from retrieval.vector_store import EmbeddingSource

FAISS = "faiss"
MILVUS = "milvus"


class VectorIndex(Protocol):
    """What search, ingestion and the rebuild command need of a vector index.

    Ids are int64 chunk ids, vectors float32 rows of one dimension, scores inner
    products (cosine on normalised vectors), best first. Errors: IndexMissing,
    IndexCorrupt, IndexMismatch (all IndexUnavailable) when no usable index exists and
    no `source` (all (ids, vectors) of the knowledge base from the database) was given
    to rebuild it; SourceChanged when `source` holds another model's vectors; ValueError
    for duplicate ids or `add` of an id already indexed.
    """

    def manifest(self, kb_key: str) -> dict[str, Any]:
        """At least model, dimension, count and index_type."""
        ...

    def ping(self, timeout: float = 2.0) -> str:
        """A short description of the store when it can serve; raises when its server
        does not answer within `timeout` seconds."""
        ...

    def search(self, kb_key: str, query: np.ndarray, k: int, *, model: str,
               source: EmbeddingSource | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def ensure(self, kb_key: str, *, model: str, dimension: int,
               source: EmbeddingSource) -> dict[str, Any]: ...

    def rebuild(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray,
                model: str) -> dict[str, Any]: ...

    def add(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray, *, model: str,
            source: EmbeddingSource | None = None) -> dict[str, Any]: ...

    def upsert(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray, *, model: str,
               source: EmbeddingSource | None = None) -> dict[str, Any]: ...

    def remove(self, kb_key: str, ids: np.ndarray) -> dict[str, Any]: ...

    def delete(self, kb_key: str) -> None: ...


@dataclass(frozen=True)
class VectorStoreChoice:
    backend: str  # FAISS or MILVUS
    uri: str = ""  # Milvus only: a server URI or a Milvus Lite file path


def parse_vector_store(value: str) -> VectorStoreChoice:
    """`faiss` or `milvus:URI` (`milvus:http://host:19530`, `milvus:/path/milvus.db`);
    raises ValueError with the accepted forms otherwise."""
    value = value.strip()
    if value == FAISS:
        return VectorStoreChoice(FAISS)
    backend, _, uri = value.partition(":")
    if backend == MILVUS and uri.strip():
        return VectorStoreChoice(MILVUS, uri.strip())
    raise ValueError(f"{value!r} is not `faiss` or `milvus:` followed by a Milvus URI "
                     "(milvus:http://host:19530) or a Milvus Lite file path "
                     "(milvus:/var/lib/citewise/milvus.db)")


def open_vector_store(choice: VectorStoreChoice, *, index_dir: Any,
                      milvus_index_type: str = "FLAT") -> VectorIndex:
    """The store `choice` names; `index_dir` holds FAISS files, or for Milvus this
    node's write locks."""
    if choice.backend == MILVUS:
        from retrieval.milvus_store import MilvusVectorStore

        return MilvusVectorStore(choice.uri, lock_root=index_dir,
                                 index_type=milvus_index_type)
    from retrieval.vector_store import VectorStore

    return VectorStore(index_dir)
