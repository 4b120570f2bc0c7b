"""One BM25 index per knowledge base, persisted and reloaded like the vector index.

Same guarantees as retrieval.vector_store: writes under the knowledge base lock, a new
immutable data file per version plus an atomically replaced manifest, readers reload when
the version changes, and an unusable index is rebuilt from `source` (a function returning
all (ids, texts) of the knowledge base from the database) when one is given.
The manifest records the tokenizer: an index is only valid with the tokens it was built
from, so changing the tokenizer setting forces a rebuild instead of silent misses.

The files are a node-local cache of the database: the manifest also records the
database's `source_version` they reflect (a counter the database bumps whenever which
chunks are searchable changes), and `catch_up` brings files that are behind up to date,
adding the chunks they lack and dropping those no longer live. So a node whose files
another node's worker never wrote still answers from every published document.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.bm25 import Bm25Matrix
from retrieval.errors import IndexCorrupt, IndexMismatch, IndexMissing, IndexUnavailable
from retrieval.locking import KbLock
from retrieval.versioned import Loaded, VersionCache, VersionedFiles, log_rebuilt
from textproc.tokens import TokenizerConfig, tokenize

TextSource = Callable[[], tuple[Sequence[int], Sequence[str]]]
IdSource = Callable[[], Sequence[int]]
TextsOf = Callable[[Sequence[int]], Sequence[str]]
FORMAT = 1


class LexicalStore:
    def __init__(self, root: Path | str, *, tokenizer: TokenizerConfig | None = None,
                 lock_timeout: float = 600.0) -> None:
        self.root = Path(root)
        self.tokenizer = tokenizer or TokenizerConfig()
        self.lock_timeout = lock_timeout
        self._files = VersionedFiles(self.root, "lexical", "npz")
        self._cache: VersionCache[Bm25Matrix] = VersionCache(
            self._files, self._read_matrix, check=self._check_tokenizer)

    def lock(self, kb_key: str) -> KbLock:
        return KbLock(self.root, kb_key, timeout=self.lock_timeout)

    def manifest(self, kb_key: str) -> dict[str, Any]:
        return dict(self._files.read_manifest(kb_key))

    def tokens(self, text: str) -> list[str]:
        return tokenize(text, self.tokenizer)

    # ----- reading -------------------------------------------------------------------

    def search(self, kb_key: str, query: str, k: int, *,
               source: TextSource | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, BM25 scores) for a query text, best first; chunks sharing
        no term with the query are not returned. A misspelled query term counts as the
        indexed term it is one edit from (Bm25Matrix.spelled_as_indexed)."""
        matrix = self._reader(kb_key, source).payload
        return matrix.search(matrix.spelled_as_indexed(self.tokens(query)), k)

    def term_coverage(self, kb_key: str, query: str, ids: Sequence[int], *,
                      source: TextSource | None = None) -> dict[int, float]:
        """Per chunk id, the idf-weighted share of the query's terms it contains
        (Bm25Matrix.term_coverage): evidence that a passage is about the question."""
        return self._reader(kb_key, source).payload.term_coverage(self.tokens(query), ids)

    def ensure(self, kb_key: str, *, source: TextSource) -> dict[str, Any]:
        return dict(self._reader(kb_key, source).manifest)

    def _reader(self, kb_key: str, source: TextSource | None) -> Loaded[Bm25Matrix]:
        try:
            return self._cache.load(kb_key)
        except IndexUnavailable:
            if source is None:
                raise
        with self.lock(kb_key):
            try:
                return self._cache.load(kb_key)
            except IndexUnavailable as exc:
                ids, texts = source()
                self.rebuild(kb_key, ids, texts)
                log_rebuilt("lexical", exc, len(ids))
            return self._cache.load(kb_key)

    def catch_up(self, kb_key: str, version: int, *, live_ids: IdSource, texts_of: TextsOf,
                 source: TextSource) -> bool:
        """Bring the files to the database's `version`, read by the caller BEFORE it
        calls live_ids (all searchable chunk ids now) or texts_of (texts of these ids, in
        order); a change in between leaves the files marked behind, never ahead.
        Tokenizes only the chunks the files lack. Returns whether the files changed."""
        with contextlib.suppress(IndexUnavailable):  # the cheap, common case
            if self._cache.load(kb_key).manifest.get("source_version") == version:
                return False
        with self.lock(kb_key):
            try:
                manifest = self._files.read_manifest(kb_key)
                self._check_tokenizer(kb_key, manifest)
                matrix = self._read_matrix(kb_key, manifest)
            except IndexUnavailable as exc:
                ids, texts = source()
                self.rebuild(kb_key, ids, texts, source_version=version)
                log_rebuilt("lexical", exc, len(ids))
                return True
            if manifest.get("source_version") == version:
                return False
            live = np.asarray(live_ids(), dtype=np.int64)
            missing = np.setdiff1d(live, matrix.ids)
            matrix.remove(np.setdiff1d(matrix.ids, live))
            if len(missing):
                matrix.add(missing, [self.tokens(t) for t in texts_of(missing.tolist())])
            self._save(kb_key, matrix, source_version=version)
            return True

    def _check_tokenizer(self, kb_key: str, manifest: dict[str, Any]) -> None:
        if manifest.get("tokenizer") != self.tokenizer.name:
            raise IndexMismatch(kb_key, f"built with tokenizer {manifest.get('tokenizer')!r}")

    def _read_matrix(self, kb_key: str, manifest: dict[str, Any]) -> Bm25Matrix:
        data = self._files.read_data(kb_key, manifest)
        try:
            matrix = Bm25Matrix.from_bytes(data)
        except Exception as exc:  # zipfile/numpy/scipy raise many types on damaged files
            raise IndexCorrupt(kb_key, f"unreadable lexical file: {exc}") from exc
        if len(matrix) != manifest.get("count"):
            raise IndexCorrupt(kb_key, "lexical file disagrees with its manifest")
        return matrix

    # ----- writing -------------------------------------------------------------------

    def rebuild(self, kb_key: str, ids: Sequence[int], texts: Sequence[str], *,
                source_version: int | None = None) -> dict[str, Any]:
        """Replace the index with these chunks; `source_version`: the database's version
        read before the chunks were (None: unknown, the next catch_up checks)."""
        ids_array = _ids(ids, texts)
        matrix = Bm25Matrix.empty()
        matrix.add(ids_array, [self.tokens(t) for t in texts])
        with self.lock(kb_key):
            return self._save(kb_key, matrix, source_version=source_version)

    def add(self, kb_key: str, ids: Sequence[int], texts: Sequence[str], *,
            source: TextSource | None = None) -> dict[str, Any]:
        """Add new chunks; raises ValueError if any id is already indexed (use upsert)."""
        return self._write(kb_key, ids, texts, replace=False, source=source)

    def upsert(self, kb_key: str, ids: Sequence[int], texts: Sequence[str], *,
               source: TextSource | None = None) -> dict[str, Any]:
        return self._write(kb_key, ids, texts, replace=True, source=source)

    def remove(self, kb_key: str, ids: Sequence[int]) -> dict[str, Any]:
        with self.lock(kb_key):
            manifest = self._files.read_manifest(kb_key)
            matrix = self._read_matrix(kb_key, manifest)
            matrix.remove(ids)
            return self._save(kb_key, matrix,
                              source_version=manifest.get("source_version"))

    def delete(self, kb_key: str) -> None:
        with self.lock(kb_key):
            self._files.manifest_path(kb_key).unlink(missing_ok=True)
            for path in self._files.folder(kb_key).glob("lexical-*.npz"):
                path.unlink(missing_ok=True)
        self._cache.forget(kb_key)

    def _write(self, kb_key: str, ids: Sequence[int], texts: Sequence[str], *, replace: bool,
               source: TextSource | None) -> dict[str, Any]:
        ids_array = _ids(ids, texts)
        token_lists = [self.tokens(t) for t in texts]  # outside the lock: it can be slow
        rebuilt: tuple[IndexUnavailable, int] | None = None
        source_version = None  # a write adds chunks not yet searchable: no version change
        with self.lock(kb_key):
            try:
                manifest = self._files.read_manifest(kb_key)
                if manifest.get("tokenizer") != self.tokenizer.name:
                    raise IndexMismatch(kb_key, "built with another tokenizer")
                matrix = self._read_matrix(kb_key, manifest)
                source_version = manifest.get("source_version")
            except IndexUnavailable as exc:
                if source is None and not isinstance(exc, IndexMissing):
                    raise
                matrix = Bm25Matrix.empty()
                if source is not None:  # the database holds every chunk, these included
                    base_ids, base_texts = source()
                    new_ids = set(ids_array.tolist())
                    keep = [i for i, cid in enumerate(base_ids) if int(cid) not in new_ids]
                    rebuilt = exc, len(keep)
                    matrix.add(np.asarray([base_ids[i] for i in keep], dtype=np.int64),
                               [self.tokens(base_texts[i]) for i in keep])
            existing = np.isin(ids_array, matrix.ids)
            if existing.any() and not replace:
                raise ValueError(f"chunk ids already indexed: {ids_array[existing][:10]}")
            matrix.remove(ids_array[existing])
            matrix.add(ids_array, token_lists)
            saved = self._save(kb_key, matrix, source_version=source_version)
        if rebuilt is not None:
            log_rebuilt("lexical", *rebuilt)
        return saved

    def _save(self, kb_key: str, matrix: Bm25Matrix, *,
              source_version: int | None) -> dict[str, Any]:
        manifest = {"format": FORMAT, "tokenizer": self.tokenizer.name, "count": len(matrix),
                    "vocabulary": len(matrix.terms), "index_type": "bm25",
                    "source_version": source_version}
        return self._files.save(kb_key, matrix.to_bytes(), manifest)


def _ids(ids: Sequence[int], texts: Sequence[str]) -> np.ndarray:
    array = np.asarray(ids, dtype=np.int64).reshape(-1)
    if len(array) != len(texts):
        raise ValueError("one text per id")
    if len(np.unique(array)) != len(array):
        raise ValueError("duplicate chunk ids in one write")
    return array
