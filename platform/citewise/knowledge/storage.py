"""Original files: the one place they are written, read, listed and deleted.

A file is named originals/<first two hex>/<sha256>; the same content uploaded twice is
stored once. Where the names live is the `originals` storage (settings.STORAGES):
DATA_DIR on local disk by default, or an S3-compatible bucket (CITEWISE_ORIGINALS_STORAGE=
s3), which every web and worker node reaches, so no node holds a file another lacks.

An upload is spooled to a temporary file first (hashed and held to the size limit on the
way), then moved into place (a rename on local disk) or sent to the bucket, so a reader
never sees half a file. Code that needs a path (the parsers, the PDF renderer) reads
through local_copy: the file itself on local disk, a temporary download from a bucket.
A bucket that cannot be reached raises StorageUnavailable (code `storage_unavailable`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction

from citewise.ops.outages import StorageFull, StorageUnavailable, is_disk_full

COPY_BUFFER = 1024 * 1024
FOLDER = "originals"


class FileTooLarge(Exception):
    pass


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    relative_path: str


class _Spooled(File):
    """A spooled upload that the local storage moves into place by renaming it."""

    def temporary_file_path(self) -> str:
        return self.name


def originals() -> Storage:
    return storages["originals"]


def spool_root() -> Path:
    """Where uploads are spooled (and, on local storage, the originals themselves): in
    the folder of the originals, so moving one into place is a rename."""
    return Path(settings.DATA_DIR) / FOLDER


def store_original(source: BinaryIO, *, max_bytes: int) -> StoredFile:
    """Copy a stream into the store, hashing it on the way. Raises FileTooLarge past
    max_bytes, StorageFull when the disk fills (the doors answer 507) and
    StorageUnavailable when the bucket cannot be reached (503)."""
    root = spool_root()
    root.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as temp:
            sha, size = _copy_hashing(source, temp, max_bytes=max_bytes)
        relative = f"{FOLDER}/{sha[:2]}/{sha}"
        put_original(relative, Path(temp_name))
    except BaseException as error:
        if is_disk_full(error):
            raise StorageFull(errno.ENOSPC, "no space left in the data directory for the "
                                            "upload") from error
        raise
    finally:
        # A partial copy never stays, and no row points at one: rows are made after this.
        # (Moved into place on local storage: then there is nothing left to remove.)
        Path(temp_name).unlink(missing_ok=True)
    return StoredFile(sha, size, relative)


def _copy_hashing(source: BinaryIO, target: BinaryIO, *, max_bytes: int) -> tuple[str, int]:
    """Copy `source` to `target` (synced to disk); returns (sha256 hex, bytes)."""
    digest = hashlib.sha256()
    size = 0
    while block := source.read(COPY_BUFFER):
        size += len(block)
        if size > max_bytes:
            raise FileTooLarge(
                f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB")
        digest.update(block)
        target.write(block)
    target.flush()
    os.fsync(target.fileno())
    return digest.hexdigest(), size


def original_exists(relative_path: str) -> bool:
    with _storage_faults():
        return bool(relative_path) and originals().exists(relative_path)


def open_original(relative_path: str) -> BinaryIO:
    """The original as a binary file to read (and close). Raises FileNotFoundError when
    it is gone, StorageUnavailable when the bucket cannot be reached."""
    with _storage_faults():
        return originals().open(relative_path, "rb")


@contextmanager
def local_copy(relative_path: str) -> Iterator[Path]:
    """A path on this machine holding the original, for readers that need one (parsers,
    pypdfium2): on local storage the file itself, else a temporary copy removed on exit.
    Raises as open_original."""
    try:
        local = originals().path(relative_path)
    except NotImplementedError:  # a bucket: no local path
        local = None
    if local is not None:
        yield Path(local)
        return
    root = spool_root()
    root.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=root, prefix=".copy-")
    try:
        with os.fdopen(fd, "wb") as temp, open_original(relative_path) as source, \
                _storage_faults():
            shutil.copyfileobj(source, temp, COPY_BUFFER)
        yield Path(temp_name)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def original_size(relative_path: str) -> int:
    """The original's size in bytes. Raises as open_original."""
    with _storage_faults():
        return originals().size(relative_path)


def put_original(relative_path: str, local: Path) -> None:
    """Store the file at `local` as `relative_path` (moved on local storage, uploaded to
    a bucket): a restore's originals. Raises StorageUnavailable."""
    with _storage_faults(), local.open("rb") as handle:
        originals().save(relative_path, _Spooled(handle, name=str(local)))


def delete_original(relative_path: str) -> None:
    with _storage_faults():
        originals().delete(relative_path)


def check_reachable() -> str:
    """Where the originals are, after listing the top of that storage; raises
    StorageUnavailable when it cannot be (a bucket down, missing, or refusing us)."""
    if settings.ORIGINALS_STORAGE != "s3":
        return "in the data directory"
    with _storage_faults():
        originals().listdir("")
    return f"bucket {settings.S3_OPTIONS['bucket_name']}"


def original_names() -> Iterator[str]:
    """Every stored original's name ("originals/<xx>/<sha256>"), for backups; spooled
    uploads (hidden names) are left out."""
    storage = originals()
    with _storage_faults():
        try:
            folders, _files = storage.listdir(FOLDER)
        except FileNotFoundError:  # local storage before the first upload
            return
        for folder in sorted(folders):
            for name in sorted(storage.listdir(f"{FOLDER}/{folder}")[1]):
                if not name.startswith("."):
                    yield f"{FOLDER}/{folder}/{name}"


@contextmanager
def _storage_faults() -> Iterator[None]:
    """Turns the bucket's own errors into StorageUnavailable (a missing object into
    FileNotFoundError); local disk errors pass as they are."""
    if settings.ORIGINALS_STORAGE != "s3":
        yield
        return
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
            raise FileNotFoundError(errno.ENOENT, "the original is gone") from error
        raise StorageUnavailable(str(error)) from error
    except BotoCoreError as error:
        raise StorageUnavailable(str(error)) from error


def discard_document(document) -> None:
    """Delete a document (delete_document_rows) and take its chunks out of the index once
    the caller's transaction commits (indexing.forget_chunks). Call inside it."""
    from citewise.knowledge import indexing  # lazy, as below: views import this module

    kb, chunk_ids = document.knowledge_base, list(document.chunks.values_list("pk", flat=True))
    delete_document_rows(document)
    # After the rows: it writes the knowledge base's row (searchable_set_changed).
    indexing.forget_chunks(kb, chunk_ids)


def delete_document_rows(document) -> None:
    """Delete a document's rows (chunks cascade), its rendered page images, and its
    original once no other document holds the same content. Call inside the caller's
    transaction."""
    from citewise.knowledge.models import Document
    from citewise.knowledge.viewer import delete_page_images

    relative_path, document_id = document.stored_path, document.pk
    document.delete()
    transaction.on_commit(lambda: delete_page_images(document_id))
    if relative_path and not Document.objects.filter(stored_path=relative_path).exists():
        # robust: the rows are gone whatever the bucket says; a failure is logged (the
        # object is left over, unreferenced) and the caller's request still succeeds.
        transaction.on_commit(lambda: delete_original(relative_path), robust=True)
