"""Backups of a whole instance: the database plus the data directory's original files,
in one tar file, and their restore (`manage.py backup` / `manage.py restore`).

A backup holds (docs/operations.md#backups):

    database.sqlite3 | database.pgdump   the database (ops/database_copy.py)
    data/originals/<xx>/<sha256>          every uploaded original, as stored (read
                                          through knowledge/storage.py: from the data
                                          directory or the S3 bucket)
    data/secret_key                       the generated secret key, when there is one
    manifest.json                         last, so a backup cut short has none

Index files and page images are not backed up: both are derived from the database and
the originals, and a restore rebuilds the indexes from the stored embeddings (measured
in benchmarks/RESULTS.md). The manifest gives the format version, the Citewise version,
the time, the database's row counts and every member's size and SHA-256.

A restore reads and checks the whole file in a staging folder inside the data directory
before touching anything, so a damaged or truncated backup changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from citewise.knowledge import storage
from citewise.ops import database_copy

FORMAT = "citewise-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_PREFIX = "data/"
# What a backup carries besides the database: the originals (from their storage) and this
# file of the data directory; everything else there is derived (indexes, page-images,
# onnx), transient (broker, celerybeat-schedule) or built (static).
SECRET_KEY_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
# Derived from the database and the originals: removed on restore, rebuilt on use.
DERIVED = ("indexes", "page-images")
_CHUNK = 1 << 20

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go on; `code` is machine-readable and the message
    tells the operator what to do."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Summary:
    """What a backup holds or a restore restored: its manifest's counts, the number of
    files and bytes, and the seconds it took."""

    counts: dict[str, int]
    files: int
    size: int
    seconds: float


def _citewise_version() -> str:
    try:
        return version("citewise")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class _DataFile:
    """A file a backup carries: its member name, size in bytes and how to open it."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]


def _data_files() -> Iterator[_DataFile]:
    """Every data file a backup carries: the secret key, then the originals, sorted."""
    secret_key = Path(settings.DATA_DIR) / SECRET_KEY_FILE
    if secret_key.is_file():
        yield _DataFile(DATA_PREFIX + SECRET_KEY_FILE, secret_key.stat().st_size,
                        lambda: secret_key.open("rb"))
    for name in storage.original_names():
        yield _DataFile(DATA_PREFIX + name, storage.original_size(name),
                        lambda name=name: storage.open_original(name))


class _Hashing:
    """A read-only file wrapper that hashes what tarfile reads through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.sha256 = handle, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha256.update(data)
        return data


def _add(archive: tarfile.TarFile, file: _DataFile) -> dict[str, Any]:
    info = tarfile.TarInfo(file.name)
    info.size, info.mtime, info.mode = file.size, int(time.time()), 0o600
    with file.open() as handle:
        reader = _Hashing(handle)
        archive.addfile(info, reader)  # type: ignore[arg-type]  # tarfile only calls read()
    return {"size": info.size, "sha256": reader.sha256.hexdigest()}


def create_backup(target: Path, progress: Progress) -> Summary:
    """Write a backup of this instance to `target` (a new file; written beside it as
    `<target>.partial` and renamed when complete). Raises BackupError."""
    started = time.monotonic()
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name.",
                          code="backup_target_exists")
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist; create it first.",
                          code="backup_folder_missing")
    partial = target.with_name(target.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            dump = Path(scratch) / database_copy.dump_file_name()
            progress(f"Copying the {database_copy.engine()} database...")
            counts = database_copy.dump(dump)
            progress("Database: " + ", ".join(f"{n} {label.replace('_', ' ')}"
                                               for label, n in counts.items()))
            files = _write_archive(partial, dump, counts, progress)
    except database_copy.DatabaseCopyError as error:
        partial.unlink(missing_ok=True)
        raise BackupError(str(error), code=error.code) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return Summary(counts, files, target.stat().st_size, time.monotonic() - started)


def _write_archive(partial: Path, dump: Path, counts: dict[str, int],
                   progress: Progress) -> int:
    members: dict[str, dict[str, Any]] = {}
    data_files = list(_data_files())
    with tarfile.open(partial, "w") as archive:
        members[dump.name] = _add(archive, _DataFile(dump.name, dump.stat().st_size,
                                                     lambda: dump.open("rb")))
        for done, file in enumerate(data_files, start=1):
            members[file.name] = _add(archive, file)
            if done % 100 == 0 or done == len(data_files):
                progress(f"Data files: {done}/{len(data_files)}")
        manifest = json.dumps({
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "citewise_version": _citewise_version(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {"engine": database_copy.engine(), "file": dump.name},
            "counts": counts, "files": members,
        }, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(manifest), int(time.time()), 0o600
        archive.addfile(info, io.BytesIO(manifest))
    return len(members)

