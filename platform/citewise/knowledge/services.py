"""What people and commands do to knowledge bases: create them, add and delete documents.

Each function takes the actor first and asks the permission service before acting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from citewise.knowledge import indexing
from citewise.knowledge.models import (
    Document,
    DocumentStatus,
    KnowledgeBase,
    LanguageHint,
    Stage,
)
from citewise.knowledge.permissions import SYSTEM, Actor, acting_user, can_edit
from citewise.knowledge.storage import FileTooLarge, delete_document_rows, store_original
from citewise.knowledge.tasks import ingest_document
from citewise.knowledge.webhook_delivery import document_finished
from ingestion.errors import TooLarge
from ingestion.safety import sanitize_filename


@dataclass(frozen=True)
class AddResult:
    document: Document
    duplicate: bool


def default_embedding_model(language: str) -> str:
    """The model a new knowledge base gets when the admin names none."""
    if language == LanguageHint.KOREAN:
        return settings.EMBEDDING_MODEL_KOREAN
    return settings.EMBEDDING_MODEL


def create_knowledge_base(actor: Actor, *, name: str, slug: str, description: str = "",
                          embedding_model: str | None = None, language: str = "auto",
                          readable_by_all: bool = False) -> KnowledgeBase:
    if not (actor is SYSTEM or getattr(actor, "is_superuser", False)):
        raise PermissionDenied("only administrators create knowledge bases")
    return KnowledgeBase.objects.create(
        name=name, slug=slug, description=description, language=language,
        embedding_model=embedding_model or default_embedding_model(language),
        readable_by_all=readable_by_all,
        created_by=None if actor is SYSTEM else actor,
    )


def add_document(actor: Actor, kb: KnowledgeBase, source: BinaryIO, *, original_name: str,
                 title: str | None = None, enqueue: bool = True) -> AddResult:
    """Store the file and queue its ingestion, unless the same content is already there.

    A file with the name of a document already in the knowledge base becomes its next
    version: the old one stays searchable until the new one is indexed, then goes.
    With enqueue=False the caller runs the ingestion itself (`ingest --sync`).
    """
    if not can_edit(actor, kb):
        raise PermissionDenied(f"you may not add documents to {kb.name}")
    name = sanitize_filename(original_name)
    uploader = acting_user(actor)  # a key's uploads are its owner's
    try:
        stored = store_original(source, max_bytes=settings.MAX_UPLOAD_BYTES)
    except FileTooLarge as error:
        failed = Document.objects.create(
            knowledge_base=kb, title=title or name, original_name=name, sha256="",
            stored_path="", status=DocumentStatus.FAILED, stage=Stage.FAILED,
            error_code=TooLarge.code, uploaded_by=uploader,
            error=f"{name}: {error}; split it or ask an administrator to raise "
                  "CITEWISE_MAX_UPLOAD_MB")
        document_finished(failed)
        return AddResult(failed, duplicate=False)
    with transaction.atomic():
        same_content = (kb.documents.filter(sha256=stored.sha256)
                        .exclude(status=DocumentStatus.FAILED).first())
        if same_content is not None:
            return AddResult(same_content, duplicate=True)
        previous = (kb.documents.filter(original_name=name)
                    .exclude(status=DocumentStatus.FAILED).order_by("-version").first())
        document = Document.objects.create(
            knowledge_base=kb, title=title or name, original_name=name,
            size=stored.size, sha256=stored.sha256, stored_path=stored.relative_path,
            version=previous.version + 1 if previous else 1, replaces=previous,
            uploaded_by=uploader,
        )
        if enqueue:
            ingest_document.delay_on_commit(document.pk)
    return AddResult(document, duplicate=False)


def delete_document(actor: Actor, document: Document) -> None:
    kb = document.knowledge_base
    if not can_edit(actor, kb):
        raise PermissionDenied(f"you may not delete documents of {kb.name}")
    chunk_ids = list(document.chunks.values_list("pk", flat=True))
    with transaction.atomic():
        delete_document_rows(document)
    indexing.unindex_chunks(kb, chunk_ids)


def delete_knowledge_base(actor: Actor, kb: KnowledgeBase) -> None:
    if not (actor is SYSTEM or getattr(actor, "is_superuser", False)):
        raise PermissionDenied("only administrators delete knowledge bases")
    index_key = kb.index_key  # the primary key is gone after delete()
    with transaction.atomic():
        for document in kb.documents.all():
            delete_document_rows(document)
        kb.delete()
    indexing.delete_indexes(index_key)
