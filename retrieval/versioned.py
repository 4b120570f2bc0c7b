"""Versioned index files shared by the vector and lexical stores.

Layout for one knowledge base and one kind of index (e.g. "vectors"):

    root/kb_key/vectors.json           manifest, replaced atomically, names the data file
    root/kb_key/vectors-000042.faiss   data file of version 42, never modified once written

Writers (under the knowledge base lock) write the new data file first, then the manifest.
Readers read the manifest, then open the file it names; since data files are immutable and
the previous version is kept, a reader never sees a half-written file and a reader that
read the old manifest just before the swap can still open the old data file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from retrieval.atomic import write_bytes_atomic, write_json_atomic
from retrieval.errors import IndexCorrupt, IndexMissing, IndexUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")
KEEP_VERSIONS = 2  # the current data file and the one before it, for in-flight readers


@dataclass(frozen=True)
class Stamp:
    """Cheap identity of a manifest file, to skip re-reading it on every query."""

    inode: int
    mtime_ns: int
    size: int


class VersionedFiles:
    def __init__(self, root: Path, kind: str, suffix: str) -> None:
        self.root = Path(root)
        self.kind = kind
        self.suffix = suffix

    def folder(self, kb_key: str) -> Path:
        if not kb_key or "/" in kb_key or kb_key.startswith("."):
            raise ValueError(f"invalid knowledge base key {kb_key!r}")
        return self.root / kb_key

    def manifest_path(self, kb_key: str) -> Path:
        return self.folder(kb_key) / f"{self.kind}.json"

    def stamp(self, kb_key: str) -> Stamp | None:
        try:
            st = os.stat(self.manifest_path(kb_key))
        except FileNotFoundError:
            return None
        return Stamp(st.st_ino, st.st_mtime_ns, st.st_size)

    def read_manifest(self, kb_key: str) -> dict[str, Any]:
        path = self.manifest_path(kb_key)
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexMissing(kb_key, f"no {self.kind} manifest at {path}") from None
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(kb_key, f"unreadable {self.kind} manifest: {exc}") from exc
        if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), int):
            raise IndexCorrupt(kb_key, f"{self.kind} manifest lacks a version")
        return manifest

    def read_data(self, kb_key: str, manifest: dict[str, Any]) -> bytes:
        path = self.folder(kb_key) / str(manifest.get("file", ""))
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise IndexMissing(kb_key, f"{self.kind} data file {path} is missing") from None

    def current_version(self, kb_key: str) -> int:
        with contextlib.suppress(IndexMissing, IndexCorrupt):
            return int(self.read_manifest(kb_key)["version"])
        # A corrupt manifest must not reset versions to ones readers already cached.
        versions = [_version_of(p) for p in self.folder(kb_key).glob(f"{self.kind}-*")]
        return max([v for v in versions if v is not None], default=0)

    def save(self, kb_key: str, data: bytes, manifest: dict[str, Any]) -> dict[str, Any]:
        """Write a new version (caller holds the lock); return the manifest written."""
        version = self.current_version(kb_key) + 1
        name = f"{self.kind}-{version:06d}.{self.suffix}"
        write_bytes_atomic(self.folder(kb_key) / name, data)
        written = {**manifest, "version": version, "file": name, "kind": self.kind}
        write_json_atomic(self.manifest_path(kb_key), written)
        self._prune(kb_key, version)
        return written

    def _prune(self, kb_key: str, version: int) -> None:
        for path in self.folder(kb_key).glob(f"{self.kind}-*.{self.suffix}"):
            found = _version_of(path)
            if found is not None and found <= version - KEEP_VERSIONS:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def log_rebuilt(kind: str, error: IndexUnavailable, restored: int) -> None:
    """The line an operator reads when an index file was unusable and was rebuilt from
    its source (the database): which index, why, and how many chunks came back from the
    database. A missing index with nothing to restore is a new knowledge base, no fault."""
    if isinstance(error, IndexMissing) and restored == 0:
        logger.info("%s index of knowledge base %r created", kind, error.kb_key)
        return
    logger.warning("%s index of knowledge base %r was unusable (%s); rebuilt from the "
                   "database (%d chunks restored). Answers are unaffected; if this repeats, check "
                   "the index directory's disk and who else writes to it.",
                   kind, error.kb_key, error.reason, restored)


def _version_of(path: Path) -> int | None:
    digits = path.name.split("-", 1)[-1].split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


@dataclass
class Loaded(Generic[T]):
    stamp: Stamp | None
    manifest: dict[str, Any]
    payload: T


class VersionCache(Generic[T]):
    """The last loaded version of each knowledge base's file, reloaded only when the
    manifest changes: a cheap stat while the stamp is unchanged, a manifest read when it
    changed, and a new payload only when the version did."""

    def __init__(self, files: VersionedFiles,
                 read: Callable[[str, dict[str, Any]], T], *,
                 check: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.files = files
        self.read = read  # (kb_key, manifest) -> payload; raises IndexCorrupt
        self.check = check  # raises IndexMismatch before a mismatched file is read
        self._loaded: dict[str, Loaded[T]] = {}
        self._guard = threading.Lock()

    def load(self, kb_key: str) -> Loaded[T]:
        stamp = self.files.stamp(kb_key)
        with self._guard:
            cached = self._loaded.get(kb_key)
        if cached is not None and stamp is not None and cached.stamp == stamp:
            return cached
        manifest = self.files.read_manifest(kb_key)
        if self.check is not None:
            self.check(kb_key, manifest)
        if cached is not None and cached.manifest["version"] == manifest["version"]:
            cached.stamp = stamp
            return cached
        loaded = Loaded(stamp, manifest, self.read(kb_key, manifest))
        with self._guard:
            self._loaded[kb_key] = loaded
        return loaded

    def forget(self, kb_key: str) -> None:
        with self._guard:
            self._loaded.pop(kb_key, None)
