"""One FAISS index per knowledge base, persisted safely and reloaded when it changes.

Writes (add/remove/upsert/rebuild) take the knowledge base lock, load the latest saved
version from disk (another process may have written since), change it and save a new
version. Searches use an in-process cached copy and reload it when the manifest's version
changes, so a web process sees a worker's writes without a restart.

When an index is missing, corrupt or built with another model or dimension, callers that
pass `source` (a function returning all (ids, vectors) of the knowledge base from the
database, the source of truth) get it rebuilt transparently; others get IndexUnavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import faiss_index
from retrieval.errors import (
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexUnavailable,
    SourceChanged,
)
from retrieval.locking import KbLock
from retrieval.versioned import Loaded, VersionCache, VersionedFiles, log_rebuilt

EmbeddingSource = Callable[[], tuple[np.ndarray, np.ndarray]]
FORMAT = 1


class WritesById:
    """add and upsert, for a store whose _write(kb_key, model, ids, vectors, *, replace,
    source) does the work (both vector stores)."""

    def _write(self, kb_key: str, model: str, ids: np.ndarray, vectors: np.ndarray, *,
               replace: bool, source: EmbeddingSource | None) -> dict[str, Any]:
        raise NotImplementedError

    def add(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray, *, model: str,
            source: EmbeddingSource | None = None) -> dict[str, Any]:
        """Add new chunks; raises ValueError if any id is already indexed (use upsert)."""
        return self._write(kb_key, model, ids, vectors, replace=False, source=source)

    def upsert(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray, *, model: str,
               source: EmbeddingSource | None = None) -> dict[str, Any]:
        """Add chunks, replacing the vectors of ids already indexed."""
        return self._write(kb_key, model, ids, vectors, replace=True, source=source)


class VectorStore(WritesById):
    def __init__(self, root: Path | str, *, exact_threshold: int = 50_000,
                 nprobe: int | None = None, lock_timeout: float = 600.0) -> None:
        self.root = Path(root)
        self.exact_threshold = exact_threshold
        self.nprobe = nprobe  # overrides the manifest's nprobe (recall/latency trade-off)
        self.lock_timeout = lock_timeout
        self._files = VersionedFiles(self.root, "vectors", "faiss")
        self._cache: VersionCache[Any] = VersionCache(self._files, self._read_index)

    # ----- reading -------------------------------------------------------------------

    def lock(self, kb_key: str) -> KbLock:
        return KbLock(self.root, kb_key, timeout=self.lock_timeout)

    def ping(self, timeout: float = 2.0) -> str:
        """Files need no server: whether they can be written is the data directory's
        readiness check."""
        return "faiss files"

    def manifest(self, kb_key: str) -> dict[str, Any]:
        return dict(self._files.read_manifest(kb_key))

    def search(self, kb_key: str, query: np.ndarray, k: int, *, model: str,
               source: EmbeddingSource | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, inner-product scores) for one query vector, best first."""
        query = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        loaded = self._reader(kb_key, model=model, dimension=query.shape[1], source=source)
        if loaded.payload.ntotal == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = faiss_index.search_one(loaded.payload, query,
                                             min(k, loaded.payload.ntotal))
        keep = ids[0] >= 0  # IVF may return fewer than k when probed lists are small
        return ids[0][keep], scores[0][keep]

    def ensure(self, kb_key: str, *, model: str, dimension: int,
               source: EmbeddingSource) -> dict[str, Any]:
        """Check the index is usable, rebuilding it from `source` if not."""
        return dict(self._reader(kb_key, model=model, dimension=dimension,
                                 source=source).manifest)

    def _reader(self, kb_key: str, *, model: str, dimension: int,
                source: EmbeddingSource | None) -> Loaded[Any]:
        try:
            loaded = self._cache.load(kb_key)
            check_manifest(kb_key, loaded.manifest, model=model, dimension=dimension)
            return loaded
        except IndexUnavailable:
            if source is None:
                raise
        with self.lock(kb_key):
            try:  # another process may have rebuilt it while we waited for the lock
                loaded = self._cache.load(kb_key)
                check_manifest(kb_key, loaded.manifest, model=model, dimension=dimension)
                return loaded
            except IndexUnavailable as exc:
                rebuild_from_source(self, kb_key, exc, model=model, dimension=dimension,
                                    source=source)
            return self._cache.load(kb_key)

    def _read_index(self, kb_key: str, manifest: dict[str, Any]) -> Any:
        data = self._files.read_data(kb_key, manifest)
        nprobe = self.nprobe or manifest.get("nprobe")
        try:
            index = faiss_index.deserialize(
                data, nprobe=nprobe if manifest.get("index_type") == faiss_index.IVF_FLAT
                else None)
        except Exception as exc:  # FAISS raises RuntimeError with a C++ message
            raise IndexCorrupt(kb_key, f"unreadable FAISS file: {exc}") from exc
        if index.ntotal != manifest.get("count") or index.d != manifest.get("dimension"):
            raise IndexCorrupt(kb_key, "FAISS file disagrees with its manifest")
        return index

    # ----- writing -------------------------------------------------------------------

    def rebuild(self, kb_key: str, ids: np.ndarray, vectors: np.ndarray,
                model: str) -> dict[str, Any]:
        """Replace the whole index with exactly these vectors (e.g. from the database)."""
        ids, vectors = unique_rows(ids, vectors)
        with self.lock(kb_key):
            return self._save(kb_key, model, vectors.shape[1], ids, vectors, index=None)

    def remove(self, kb_key: str, ids: np.ndarray) -> dict[str, Any]:
        """Remove chunks by id; unknown ids are ignored. A missing index stays missing."""
        remove_ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int64))
        with self.lock(kb_key):
            manifest = self._files.read_manifest(kb_key)
            index = self._read_index(kb_key, manifest)
            index.remove_ids(remove_ids)
            return self._save(kb_key, manifest["model"], manifest["dimension"], None, None,
                              index=index, previous=manifest)

    def delete(self, kb_key: str) -> None:
        """Forget a knowledge base's vector index (its folder stays for other indexes)."""
        with self.lock(kb_key):
            self._files.manifest_path(kb_key).unlink(missing_ok=True)
            for path in self._files.folder(kb_key).glob("vectors-*.faiss"):
                path.unlink(missing_ok=True)
        self._cache.forget(kb_key)

    def _write(self, kb_key: str, model: str, ids: np.ndarray, vectors: np.ndarray, *,
               replace: bool, source: EmbeddingSource | None) -> dict[str, Any]:
        ids, vectors = unique_rows(ids, vectors)
        with self.lock(kb_key):
            try:
                manifest = self._files.read_manifest(kb_key)
                check_manifest(kb_key, manifest, model=model, dimension=vectors.shape[1])
                index = self._read_index(kb_key, manifest)
            except IndexUnavailable as exc:
                if source is None:
                    if isinstance(exc, IndexMissing):  # first write to a new knowledge base
                        return self._save(kb_key, model, vectors.shape[1], ids, vectors,
                                          index=None)
                    raise
                all_ids, all_vectors, restored = with_source_rows(source, ids, vectors)
                saved = self._save(kb_key, model, vectors.shape[1], all_ids, all_vectors,
                                   index=None)
                log_rebuilt("vector", exc, restored)
                return saved
            existing = np.isin(ids, faiss_index.stored_ids(index))
            if existing.any() and not replace:
                raise ValueError(f"chunk ids already indexed: {ids[existing][:10].tolist()}")
            if existing.any():
                index.remove_ids(ids[existing])
            if len(ids):
                index.add_with_ids(vectors, ids)
            return self._save(kb_key, model, vectors.shape[1], None, None, index=index,
                              previous=manifest)

    def _save(self, kb_key: str, model: str, dimension: int, ids: np.ndarray | None,
              vectors: np.ndarray | None, *, index: Any,
              previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """Save `index` (or build one from ids/vectors), switching layout when the size
        crosses the threshold. The caller holds the lock."""
        count = index.ntotal if index is not None else len(ids)  # type: ignore[arg-type]
        current = previous.get("index_type") if previous else None
        wanted = self._wanted_type(count, current)
        trained_on = previous.get("trained_on", 0) if previous else 0
        stale_ivf = wanted == faiss_index.IVF_FLAT and count > 4 * max(trained_on, 1)
        params = faiss_index.ivf_params(count) if wanted == faiss_index.IVF_FLAT else None
        if index is None or wanted != current or stale_ivf:
            if index is not None:
                ids, vectors = faiss_index.contents(index)
            index = faiss_index.build(ids, vectors, index_type=wanted, dimension=dimension,
                                      ivf=params)
            trained_on = count
        elif wanted == faiss_index.IVF_FLAT and previous:
            params = faiss_index.IvfParams(previous["nlist"], previous["nprobe"])
        manifest: dict[str, Any] = {
            "format": FORMAT, "model": model, "dimension": dimension, "count": index.ntotal,
            "index_type": wanted, "exact_threshold": self.exact_threshold,
        }
        if params is not None:
            manifest |= {"nlist": params.nlist, "nprobe": params.nprobe,
                         "trained_on": trained_on}
        return self._files.save(kb_key, faiss_index.serialize(index), manifest)

    def _wanted_type(self, count: int, current: str | None) -> str:
        # Hysteresis: once approximate, go back to exact only well below the threshold,
        # so an index hovering around the threshold is not rebuilt on every save.
        if current == faiss_index.IVF_FLAT and count > self.exact_threshold // 2:
            return faiss_index.IVF_FLAT
        return faiss_index.IVF_FLAT if count > self.exact_threshold else faiss_index.FLAT


def check_manifest(kb_key: str, manifest: dict[str, Any], *, model: str, dimension: int) -> None:
    if manifest.get("model") != model:
        raise IndexMismatch(kb_key, f"built with model {manifest.get('model')!r}, "
                                    f"not {model!r}")
    if manifest.get("dimension") != dimension:
        raise IndexMismatch(kb_key, f"dimension {manifest.get('dimension')} != {dimension}")


def as_arrays(ids: Any, vectors: Any) -> tuple[np.ndarray, np.ndarray]:
    ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
    vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError("vectors must be a 2-d array with one row per id")
    return ids, vectors


def unique_rows(ids: Any, vectors: Any) -> tuple[np.ndarray, np.ndarray]:
    """as_arrays, refusing duplicate ids (ValueError)."""
    ids, vectors = as_arrays(ids, vectors)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("duplicate chunk ids")
    return ids, vectors


def rebuild_from_source(store: Any, kb_key: str, error: IndexUnavailable, *, model: str,
                        dimension: int, source: EmbeddingSource) -> None:
    """Rebuild an unusable index (`error` says why) from the database's rows. The caller
    holds the knowledge base's lock. Raises SourceChanged when the database already holds
    another model's vectors: labelling them `model` would break every later search."""
    ids, vectors = source()
    if len(ids) and vectors.shape[1] != dimension:
        raise SourceChanged(f"{kb_key}: stored vectors have {vectors.shape[1]} "
                            f"dimensions, {model} has {dimension}") from error
    store.rebuild(kb_key, ids, vectors, model)
    log_rebuilt("vector", error, len(ids))


def with_source_rows(source: EmbeddingSource, ids: np.ndarray,
                     vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Every row of the database (`source`, which already holds the rows being written)
    with these rows in place of the same ids; and how many came from the database."""
    base_ids, base_vectors = as_arrays(*source())
    keep = ~np.isin(base_ids, ids)
    return (np.concatenate([base_ids[keep], ids]),
            np.concatenate([base_vectors[keep], vectors]), int(keep.sum()))
