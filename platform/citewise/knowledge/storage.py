"""Original files, kept content-addressed in the data dir so sources can be opened later.

A file lives at originals/<first two hex>/<sha256>; the same content uploaded twice is
stored once. Writes go to a temporary file that is renamed into place, so a reader
never sees half a file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from citewise.ops.outages import StorageFull, is_disk_full

COPY_BUFFER = 1024 * 1024


class FileTooLarge(Exception):
    pass


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    relative_path: str


def originals_root() -> Path:
    return Path(settings.DATA_DIR) / "originals"


def store_original(source: BinaryIO, *, max_bytes: int) -> StoredFile:
    """Copy a stream into the store, hashing it on the way. Raises FileTooLarge past
    max_bytes and StorageFull when the disk fills (the doors answer 507)."""
    root = originals_root()
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, temp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as temp:
            while block := source.read(COPY_BUFFER):
                size += len(block)
                if size > max_bytes:
                    raise FileTooLarge(
                        f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB"
                    )
                digest.update(block)
                temp.write(block)
            temp.flush()
            os.fsync(temp.fileno())
        sha = digest.hexdigest()
        relative = f"originals/{sha[:2]}/{sha}"
        target = Path(settings.DATA_DIR) / relative
        target.parent.mkdir(exist_ok=True)
        os.replace(temp_name, target)
    except BaseException as error:
        # A partial copy never stays, and no row points at one: rows are made after this.
        Path(temp_name).unlink(missing_ok=True)
        if is_disk_full(error):
            raise StorageFull(errno.ENOSPC, "no space left in the data directory for the "
                                            "upload") from error
        raise
    return StoredFile(sha, size, relative)


def path_of(relative_path: str) -> Path:
    return Path(settings.DATA_DIR) / relative_path


def delete_original(relative_path: str) -> None:
    path_of(relative_path).unlink(missing_ok=True)


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
        transaction.on_commit(lambda: delete_original(relative_path))
