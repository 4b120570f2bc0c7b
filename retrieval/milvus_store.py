"""Vector indexes in Milvus (through pymilvus): the backend for deployments past one machine.

CITEWISE_VECTOR_STORE=milvus:URI selects it (retrieval.stores.parse_vector_store). URI is
a Milvus server (`http://host:19530`: standalone or a cluster, shared by every node) or a
Milvus Lite file (`/var/lib/citewise/milvus.db`: one process only, since Milvus Lite locks
its file; tests and trials).

One collection per knowledge base, named PREFIX + kb_key, with the chunk id (primary
key), the vector (inner product, so cosine on normalised vectors, as in FAISS) and no
other field: permission scoping is by collection, as it is by folder for FAISS, and the
database decides which chunks are live. The collection's description holds the manifest
(model, dimension), so a mismatch is detected and rebuilt from the database exactly as
with FAISS. Strong consistency: a chunk written by one node is found by the next search
of any node.

Same interface and error contract as retrieval.vector_store.VectorStore; differences:
- Writes take the knowledge base's lock on this node only. Upserts and deletes by
  primary key are safe from several nodes at once; a rebuild is not atomic.
  NOTE: Milvus Lite implements neither aliases nor renames, so a rebuild drops and
  recreates the collection in place: searches in those seconds find no index and a
  search that brings `source` rebuilds it again (same result, extra work). Rebuilds
  happen only on `rebuild_indexes`, a model swap or a missing collection.
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import (
    IndexCorrupt,
    IndexMissing,
    IndexUnavailable,
)
from retrieval.locking import KbLock
from retrieval.vector_store import (
    EmbeddingSource,
    WritesById,
    check_manifest,
    rebuild_from_source,
    unique_rows,
    with_source_rows,
)
from retrieval.versioned import log_rebuilt

FORMAT = 1
INSERT_BATCH = 2000  # rows per insert: 2000 x 1024 floats stays far below gRPC's 64 MB
PREFIX = "citewise_"
# A server that does not accept a connection within this is down: fail rather than hang
# a search or a readiness probe (pymilvus waits 10 s by default).
CONNECT_TIMEOUT = 3.0


class MilvusVectorStore(WritesById):
    def __init__(self, uri: str, *, lock_root: Path | str, prefix: str = PREFIX,
                 index_type: str = "FLAT", lock_timeout: float = 600.0) -> None:
        self.uri = uri
        self.index_type = index_type
        self.prefix = prefix
        self.lock_root = Path(lock_root)
        self.lock_timeout = lock_timeout
        self._client: Any = None
        self._client_pid = 0
        self._guard = threading.Lock()

    # ----- plumbing ------------------------------------------------------------------

    def client(self) -> Any:
        """The pymilvus client, one per process: a gRPC channel does not survive fork()
        (Celery's prefork workers), so a child makes its own."""
        with self._guard:
            if self._client is None or self._client_pid != os.getpid():
                from pymilvus import MilvusClient  # lazy: only deployments on Milvus load it

                with warnings.catch_warnings():
                    # Milvus Lite 2.5 imports pkg_resources, which warns on every start.
                    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                    self._client = MilvusClient(self.uri, **self._connect_options())
                self._client_pid = os.getpid()
            return self._client

    def _connect_options(self) -> dict[str, Any]:
        # Milvus Lite (a file path) starts a local server first, which takes longer.
        return {"timeout": CONNECT_TIMEOUT} if "://" in self.uri else {}

    def ping(self, timeout: float = 2.0) -> str:
        """A short description of the server ("milvus, N collections"); raises what
        pymilvus raises (MilvusException) when it does not answer within `timeout` s."""
        collections = self.client().list_collections(timeout=timeout)
        return f"milvus, {len(collections)} collections"

    def collection(self, kb_key: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", kb_key or ""):
            raise ValueError(f"invalid knowledge base key {kb_key!r}")
        return self.prefix + kb_key.replace("-", "_")

    def lock(self, kb_key: str) -> KbLock:
        return KbLock(self.lock_root, kb_key, timeout=self.lock_timeout)

    def _meta(self, kb_key: str) -> dict[str, Any]:
        """The manifest stored in the collection's description; IndexMissing/Corrupt."""
        name = self.collection(kb_key)
        client = self.client()
        if not client.has_collection(name):
            raise IndexMissing(kb_key, f"no Milvus collection {name}")
        try:
            meta = json.loads(client.describe_collection(name).get("description") or "")
        except ValueError as exc:
            raise IndexCorrupt(kb_key, f"collection {name} has no Citewise manifest") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise IndexCorrupt(kb_key, f"collection {name} has no Citewise manifest")
        return meta

    def _count(self, kb_key: str) -> int:
        rows = self.client().query(self.collection(kb_key), filter="",
                                   output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    # ----- reading -------------------------------------------------------------------

    def manifest(self, kb_key: str) -> dict[str, Any]:
        meta = self._meta(kb_key)
        return {**meta, "count": self._count(kb_key), "index_type": "milvus",
                "collection": self.collection(kb_key)}

    def search(self, kb_key: str, query: np.ndarray, k: int, *, model: str,
               source: EmbeddingSource | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, inner-product scores) for one query vector, best first."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        self._usable(kb_key, model=model, dimension=len(query), source=source)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self.client().search(self.collection(kb_key), data=[query.tolist()],
                                    anns_field="vector", limit=k,
                                    search_params={"metric_type": "IP"})[0]
        return (np.array([hit["id"] for hit in hits], dtype=np.int64),
                np.array([hit["distance"] for hit in hits], dtype=np.float32))

    def ensure(self, kb_key: str, *, model: str, dimension: int,
               source: EmbeddingSource) -> dict[str, Any]:
        self._usable(kb_key, model=model, dimension=dimension, source=source)
        return self.manifest(kb_key)

    def _usable(self, kb_key: str, *, model: str, dimension: int,
                source: EmbeddingSource | None) -> None:
        try:
            check_manifest(kb_key, self._meta(kb_key), model=model, dimension=dimension)
            return
        except IndexUnavailable:
            if source is None:
                raise
        with self.lock(kb_key):
            try:  # another process of this node may have rebuilt it meanwhile
                check_manifest(kb_key, self._meta(kb_key), model=model, dimension=dimension)
            except IndexUnavailable as exc:
                rebuild_from_source(self, kb_key, exc, model=model, dimension=dimension,
                                    source=source)

    # ----- writing -------------------------------------------------------------------

    def rebuild(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray,
                model: str) -> dict[str, Any]:
        """Replace the whole collection with exactly these vectors (see the module's NOTE)."""
        ids, vectors = unique_rows(ids, vectors)
        with self.lock(kb_key):
            self._create(kb_key, model, vectors.shape[1])
            self._insert(kb_key, ids, vectors, replace=False)
            return self.manifest(kb_key)

    def remove(self, kb_key: str, ids: np.ndarray) -> dict[str, Any]:
        """Remove chunks by id; unknown ids are ignored. A missing index stays missing."""
        self._meta(kb_key)
        remove_ids = [int(i) for i in np.asarray(ids, dtype=np.int64).reshape(-1)]
        if remove_ids:
            self.client().delete(self.collection(kb_key), ids=remove_ids)
        return self.manifest(kb_key)

    def delete(self, kb_key: str) -> None:
        """Forget a knowledge base's collection."""
        with self.lock(kb_key):
            self.client().drop_collection(self.collection(kb_key))

    def _write(self, kb_key: str, model: str, ids: np.ndarray, vectors: np.ndarray, *,
               replace: bool, source: EmbeddingSource | None) -> dict[str, Any]:
        ids, vectors = unique_rows(ids, vectors)
        with self.lock(kb_key):
            try:
                check_manifest(kb_key, self._meta(kb_key), model=model,
                               dimension=vectors.shape[1])
            except IndexUnavailable as exc:
                if source is None:
                    if isinstance(exc, IndexMissing):  # first write to a new knowledge base
                        return self.rebuild(kb_key, ids, vectors, model)
                    raise
                all_ids, all_vectors, restored = with_source_rows(source, ids, vectors)
                saved = self.rebuild(kb_key, all_ids, all_vectors, model)
                log_rebuilt("vector", exc, restored)
                return saved
            if not replace:
                existing = self._existing(kb_key, ids)
                if existing:
                    raise ValueError(f"chunk ids already indexed: {existing[:10]}")
            self._insert(kb_key, ids, vectors, replace=replace)
            return self.manifest(kb_key)

    def _existing(self, kb_key: str, ids: np.ndarray) -> list[int]:
        found: list[int] = []
        for start in range(0, len(ids), INSERT_BATCH):
            part = ", ".join(str(int(i)) for i in ids[start:start + INSERT_BATCH])
            rows = self.client().query(self.collection(kb_key), filter=f"chunk_id in [{part}]",
                                       output_fields=["chunk_id"])
            found += sorted(int(row["chunk_id"]) for row in rows)
        return found

    def _create(self, kb_key: str, model: str, dimension: int) -> None:
        from pymilvus import DataType

        client, name = self.client(), self.collection(kb_key)
        client.drop_collection(name)  # a no-op when absent
        schema = client.create_schema(auto_id=False, description=json.dumps(
            {"format": FORMAT, "model": model, "dimension": dimension}))
        schema.add_field("chunk_id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index = client.prepare_index_params()
        # FLAT (the default) is exact inner product: the same ranking as FAISS's flat
        # layout. Past a few million chunks a server takes HNSW or AUTOINDEX instead.
        index.add_index("vector", index_type=self.index_type, metric_type="IP")
        client.create_collection(name, schema=schema, index_params=index,
                                 consistency_level="Strong")

    def _insert(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray, *,
                replace: bool) -> None:
        write = self.client().upsert if replace else self.client().insert
        for start in range(0, len(ids), INSERT_BATCH):
            rows = [{"chunk_id": int(i), "vector": v.tolist()}
                    for i, v in zip(ids[start:start + INSERT_BATCH],
                                    vectors[start:start + INSERT_BATCH], strict=True)]
            write(self.collection(kb_key), rows)
