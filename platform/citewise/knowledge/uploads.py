"""Files in from people: a file or a .zip archive becomes documents (add_document for
each member), and a failed document is retried, by queueing it again or with a
replacement file.

Archives are expanded here, before ingestion: ingestion reads documents, and a ZIP that
is not an Office file is "unsupported" to it. The `ingest` command expands archives
with archive_members too.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from django.core.exceptions import PermissionDenied
from django.db import transaction

from citewise.audit.models import Action
from citewise.audit.services import record
from citewise.knowledge.choices import FailureCode
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase, Stage
from citewise.knowledge.permissions import Actor, can_edit
from citewise.knowledge.services import AddResult, add_document, same_content_as
from citewise.knowledge.storage import discard_document
from citewise.knowledge.tasks import ingest_document
from ingestion.errors import ArchiveBomb, CorruptDocument, IngestionError

MAX_ARCHIVE_ENTRIES = 10_000
# An uploaded archive may expand to this much in all (bytes, by the sizes its directory
# declares, which zipfile enforces while reading). Each member is also held to the
# upload limit on its own (store_original); this bounds what one upload writes to disk.
MAX_ARCHIVE_EXPANDED_BYTES = 4 * 1024 ** 3
# Failures that the same file may not meet again: a limit, a crash, a fault of our own or
# a missing OCR engine an administrator can install. The others are the file's (damaged,
# encrypted, empty, unsupported, too large): only a new file helps.
REQUEUE_MAY_HELP = frozenset({
    FailureCode.INTERNAL, FailureCode.PARSE_TIME_LIMIT, FailureCode.PARSE_MEMORY_LIMIT,
    FailureCode.PARSER_CRASHED, FailureCode.READER_FAULT, FailureCode.OCR_UNAVAILABLE,
    FailureCode.STORAGE_FULL, FailureCode.STORAGE_UNAVAILABLE,
})
_UTF8_NAME = 0x800  # ZIP general purpose flag 11: the name is UTF-8
_HANGUL = re.compile("[\uac00-\ud7a3]")
# Written by macOS and Windows beside the files people meant to zip.
_JUNK_PREFIXES = ("__MACOSX/",)
_JUNK_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class Uploaded:
    """What became of one uploaded file or archive member: `result` is the document made
    (or, with result.duplicate, the one that already holds the same content); for an
    archive that could not be opened, `result` is None and `code`/`error` say why."""

    name: str
    result: AddResult | None = None
    code: str = ""
    error: str = ""


class CannotRetry(Exception):
    """The document cannot be queued again: `code` is "not_failed" (nothing to retry),
    "needs_new_file" (the failure is the file's own; retry with a replacement) or
    "duplicate" (the same content was added again since, and is there)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def add_upload(actor: Actor, kb: KnowledgeBase, source: BinaryIO, *,
               original_name: str) -> list[Uploaded]:
    """Add an uploaded file, or each document inside a .zip archive, to `kb`.

    `source`: a seekable binary stream. Returns one Uploaded per document (an archive
    that cannot be opened: one, with the reason). Raises PermissionDenied."""
    if not can_edit(actor, kb):
        raise PermissionDenied(f"you may not add documents to {kb.name}")
    if _is_archive(source, original_name):
        return _add_archive(actor, kb, source, original_name)
    result = add_document(actor, kb, source, original_name=original_name)
    return [Uploaded(original_name, result)]


def _is_archive(source: BinaryIO, name: str) -> bool:
    # Office files are ZIPs too: only a .zip name marks an archive of documents.
    if not name.lower().endswith(".zip"):
        return False
    found = zipfile.is_zipfile(source)
    source.seek(0)
    return found


def _add_archive(actor: Actor, kb: KnowledgeBase, source: BinaryIO,
                 archive_name: str) -> list[Uploaded]:
    try:
        with zipfile.ZipFile(source) as bundle:
            members = archive_members(bundle, max_expanded_bytes=MAX_ARCHIVE_EXPANDED_BYTES)
            added = []
            for member in members:
                path = member_path(member)
                with bundle.open(member) as stream:
                    result = add_document(actor, kb, stream,
                                          original_name=PurePosixPath(path).name)
                added.append(Uploaded(f"{archive_name} › {path}", result))
            return added
    except (zipfile.BadZipFile, IngestionError) as error:
        failed = error if isinstance(error, IngestionError) else CorruptDocument(
            "The archive is damaged: its ZIP structure cannot be read. Make it again and "
            "upload the new copy.")
        return [Uploaded(archive_name, code=failed.code, error=str(failed))]


def archive_members(bundle: zipfile.ZipFile, *,
                    max_expanded_bytes: int | None = None) -> list[zipfile.ZipInfo]:
    """The documents in an archive: its files, without folders and the operating
    systems' own files (__MACOSX/, .DS_Store...). Raises ArchiveBomb past
    MAX_ARCHIVE_ENTRIES files, or past `max_expanded_bytes` in all when given."""
    members = [info for info in bundle.infolist() if not info.is_dir() and not _junk(info)]
    if len(members) > MAX_ARCHIVE_ENTRIES:
        raise ArchiveBomb(f"The archive holds {len(members):,} files, more than the "
                          f"{MAX_ARCHIVE_ENTRIES:,} allowed. Split it into smaller archives.")
    expanded = sum(info.file_size for info in members)
    if max_expanded_bytes is not None and expanded > max_expanded_bytes:
        raise ArchiveBomb(
            f"The archive would expand to {expanded / 1024 ** 3:.1f} GB, more than the "
            f"{max_expanded_bytes / 1024 ** 3:.1f} GB allowed in one upload. Split it into "
            "smaller archives.")
    return members


def _junk(info: zipfile.ZipInfo) -> bool:
    path = PurePosixPath(info.filename)
    return info.filename.startswith(_JUNK_PREFIXES) or path.name in _JUNK_NAMES or (
        path.name.startswith("._"))


def member_path(info: zipfile.ZipInfo) -> str:
    """A member's path in the archive ("folder/name.pdf"). Archives made on Korean
    Windows store names in CP949 without saying so; zipfile reads those as CP437, which
    turns Hangul into noise, so such a name is decoded again as CP949 when that gives
    Hangul. (A Western name with accents may pass for Hangul too; in a Korean office the
    CP949 archive is by far the likelier.)"""
    if info.flag_bits & _UTF8_NAME or info.filename.isascii():
        return info.filename
    try:
        korean = info.filename.encode("cp437").decode("cp949")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename
    return korean if _HANGUL.search(korean) else info.filename


def may_requeue(document: Document) -> bool:
    """True for a failed document the same file may get through on a second try."""
    return (document.status == DocumentStatus.FAILED and bool(document.stored_path)
            and document.error_code in REQUEUE_MAY_HELP)


def retry_document(actor: Actor, document: Document, *, replacement: BinaryIO | None = None,
                   original_name: str = "") -> AddResult:
    """Retry a failed document: queue it again (same file), or, with `replacement` (a
    binary stream named `original_name`), add that file in its place and delete the
    failed document. A replacement with the name of an indexed document becomes its
    next version (add_document); one with content already there is a duplicate.

    Returns the document now queued (or the duplicate). Raises PermissionDenied, and
    CannotRetry for a document that did not fail, or whose failure only a new file
    mends."""
    kb = document.knowledge_base
    if not can_edit(actor, kb):
        raise PermissionDenied(f"you may not retry documents of {kb.name}")
    if document.status != DocumentStatus.FAILED:
        raise CannotRetry("not_failed", "only a failed document can be retried")
    if replacement is not None:
        return _replace(actor, document, replacement, original_name or document.original_name)
    if not may_requeue(document):
        raise CannotRetry("needs_new_file", "this failure is the file's own: upload a new "
                                            "file for it")
    with transaction.atomic():
        if same_content_as(kb, document.sha256) is not None:
            raise CannotRetry("duplicate", "a document with the same content is already in "
                                           "the knowledge base")
        # Compare and swap: two clicks on Retry queue one ingestion.
        requeued = Document.objects.filter(pk=document.pk, status=DocumentStatus.FAILED).update(
            status=DocumentStatus.QUEUED, stage=Stage.QUEUED, progress=0.0, error="",
            error_code="", lease_expires_at=None)
        if requeued != 1:
            raise CannotRetry("not_failed", "only a failed document can be retried")
        record(actor, Action.DOCUMENT_RETRIED, document,
               before={"error_code": document.error_code}, detail="queued again")
        ingest_document.delay_on_commit(document.pk)
    document.refresh_from_db()
    return AddResult(document, duplicate=False)


def _replace(actor: Actor, failed: Document, replacement: BinaryIO, name: str) -> AddResult:
    kb = failed.knowledge_base
    result = add_document(actor, kb, replacement, original_name=name)
    with transaction.atomic():
        record(actor, Action.DOCUMENT_RETRIED, failed,
               before={"error_code": failed.error_code},
               after={"document": result.document.pk, "duplicate": result.duplicate},
               detail=f"replaced by {result.document.original_name}")
        # A document that failed while indexing may have left some chunks in the index.
        discard_document(failed)
    return result
