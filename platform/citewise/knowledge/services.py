"""What people and commands do to knowledge bases: create them, add and delete documents.

Each function takes the actor first and asks the permission service before acting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from citewise.audit.models import Action, Detail
from citewise.audit.services import changes, record
from citewise.knowledge import indexing
from citewise.knowledge.models import (
    AnswerExample,
    Document,
    DocumentStatus,
    KnowledgeBase,
    LanguageHint,
    Stage,
)
from citewise.knowledge.permissions import SYSTEM, Actor, acting_user, can_edit, is_admin
from citewise.knowledge.storage import (
    FileTooLarge,
    delete_document_rows,
    discard_document,
    store_original,
)
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
                          readable_by_all: bool = False, answer_backend: str = "",
                          instructions: str = "", examples: Iterable = ()) -> KnowledgeBase:
    """A new knowledge base, audited; `examples`: few-shot examples (objects with
    question, answer and source), in order. Admins only (PermissionDenied)."""
    if not is_admin(actor):
        raise PermissionDenied("only administrators create knowledge bases")
    with transaction.atomic():
        kb = KnowledgeBase.objects.create(
            name=name, slug=slug, description=description, language=language,
            embedding_model=embedding_model or default_embedding_model(language),
            readable_by_all=readable_by_all, answer_backend=answer_backend,
            instructions=instructions, created_by=None if actor is SYSTEM else actor,
        )
        replace_examples(kb, examples)
        record_created(actor, kb)
    return kb


def replace_examples(kb: KnowledgeBase, examples: Iterable) -> None:
    """The knowledge base's few-shot examples become `examples` (objects with question,
    answer and source), in their order."""
    kb.answer_examples.all().delete()
    AnswerExample.objects.bulk_create(
        AnswerExample(knowledge_base=kb, question=e.question, answer=e.answer,
                      source=e.source, position=n) for n, e in enumerate(examples, start=1))


# What the audit log keeps of a knowledge base: its settings, and who may read and edit it.
SETTINGS_FIELDS = ("name", "slug", "description", "language", "embedding_model",
                   "query_prefix", "passage_prefix", "answer_backend", "instructions",
                   "webhook_url")
ACCESS_LISTS = {"reader_users": "username", "reader_groups": "name",
                "editor_users": "username", "editor_groups": "name"}


def settings_of(kb: KnowledgeBase) -> dict:
    """{field: value} of SETTINGS_FIELDS, and "answer_examples": each example as
    "question → answer", in their order (so a changed answer shows as a change too)."""
    values = {name: getattr(kb, name) for name in SETTINGS_FIELDS}
    values["answer_examples"] = [f"{e.question[:200]} → {e.answer[:200]}"
                                 for e in kb.answer_examples.order_by("position", "pk")]
    return values


def access_of(kb: KnowledgeBase) -> dict:
    """{"readable_by_all": bool, "reader_users": [usernames], "reader_groups": [names],
    "editor_users": [...], "editor_groups": [...]} (lists sorted)."""
    values: dict = {"readable_by_all": kb.readable_by_all}
    for relation, name in ACCESS_LISTS.items():
        field = get_user_model().USERNAME_FIELD if name == "username" else name
        values[relation] = sorted(getattr(kb, relation).values_list(field, flat=True))
    return values


@dataclass(frozen=True)
class KnowledgeBaseState:
    """A knowledge base's settings and access as stored, before a change."""

    settings: dict
    access: dict

    @classmethod
    def of(cls, kb: KnowledgeBase) -> KnowledgeBaseState:
        stored = KnowledgeBase.objects.get(pk=kb.pk)  # not the unsaved values on `kb`
        return cls(settings_of(stored), access_of(stored))


def record_created(actor: Actor, kb: KnowledgeBase) -> None:
    """Audit a new knowledge base, with its settings and access."""
    record(actor, Action.KNOWLEDGE_BASE_CREATED, kb, after=settings_of(kb) | access_of(kb))


def record_changes(actor: Actor, kb: KnowledgeBase, before: KnowledgeBaseState) -> None:
    """Audit what changed since `before` (the admin's edit form saves both at once): the
    settings as KNOWLEDGE_BASE_CHANGED, who may read and edit as ACCESS_CHANGED; the
    fields that did not change are left out."""
    for action, old, new in ((Action.KNOWLEDGE_BASE_CHANGED, before.settings, settings_of(kb)),
                             (Action.ACCESS_CHANGED, before.access, access_of(kb))):
        old, new = changes(old, new)
        if new:
            record(actor, action, kb, before=old, after=new)


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
        record(actor, Action.DOCUMENT_UPLOADED, failed, after={"file": name},
               detail=Detail.TOO_LARGE)
        document_finished(failed)
        return AddResult(failed, duplicate=False)
    with transaction.atomic():
        # Adds to one knowledge base take turns (its row lock, held to commit): each sees
        # the documents and versions the one before it made. Without it two web processes
        # would both find no earlier copy, or both make version 2 of the same name.
        KnowledgeBase.objects.select_for_update().filter(pk=kb.pk).exists()
        same_content = same_content_as(kb, stored.sha256)
        if same_content is None:
            previous = (kb.documents.filter(original_name=name)
                        .exclude(status=DocumentStatus.FAILED).order_by("-version").first())
            try:
                # Its own savepoint: the same file sent at the same moment through another
                # door (the console, the API) waits here on the unique index
                # (document_content_unique), then fails once the other one commits.
                with transaction.atomic():
                    document = Document.objects.create(
                        knowledge_base=kb, title=title or name, original_name=name,
                        size=stored.size, sha256=stored.sha256,
                        stored_path=stored.relative_path,
                        version=previous.version + 1 if previous else 1, replaces=previous,
                        uploaded_by=uploader,
                    )
            except IntegrityError:
                same_content = same_content_as(kb, stored.sha256)
                if same_content is None:  # not a duplicate after all: a real error
                    raise
            else:
                _record_upload(actor, document, previous)
                if enqueue:
                    ingest_document.delay_on_commit(document.pk)
                return AddResult(document, duplicate=False)
        record(actor, Action.DOCUMENT_UPLOADED, same_content, after={"file": name},
               detail=Detail.DUPLICATE)
    return AddResult(same_content, duplicate=True)


def same_content_as(kb: KnowledgeBase, sha256: str) -> Document | None:
    """The knowledge base's document with this content, unless that one failed."""
    return kb.documents.filter(sha256=sha256).exclude(status=DocumentStatus.FAILED).first()


def _record_upload(actor: Actor, document: Document, previous: Document | None) -> None:
    uploaded = {"file": document.original_name, "version": document.version}
    if previous is None:
        record(actor, Action.DOCUMENT_UPLOADED, document, after=uploaded)
        return
    record(actor, Action.DOCUMENT_UPLOADED, document, detail=Detail.NEW_VERSION,
           after=uploaded | {"replaces": f"{previous.title} (v{previous.version})"})


def delete_document(actor: Actor, document: Document) -> None:
    kb = document.knowledge_base
    if not can_edit(actor, kb):
        raise PermissionDenied(f"you may not delete documents of {kb.name}")
    with transaction.atomic():
        # Locked: an ingestion publishing it waits, or has published (pipeline._publish).
        Document.objects.select_for_update().filter(pk=document.pk).exists()
        # Recorded first, in the same transaction: the row still names the document.
        record(actor, Action.DOCUMENT_DELETED, document,
               before={"file": document.original_name, "version": document.version})
        discard_document(document)


def delete_knowledge_base(actor: Actor, kb: KnowledgeBase) -> None:
    """Delete it with its documents and index files; the audit event is written first.
    Admins only (PermissionDenied)."""
    if not is_admin(actor):
        raise PermissionDenied("only administrators delete knowledge bases")
    index_key = kb.index_key  # the primary key is gone after delete()
    with transaction.atomic():
        record(actor, Action.KNOWLEDGE_BASE_DELETED, kb,
               before=settings_of(kb) | access_of(kb) | {
                   "documents": kb.documents.count(), "chunks": kb.chunks.count()})
        for document in kb.documents.all():
            delete_document_rows(document)
        kb.delete()
        indexing.forget_indexes(index_key)
