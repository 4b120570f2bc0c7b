"""Running knowledge bases, as the console does it: their state at a glance, creating,
changing, deleting and re-indexing them, deciding who reads and edits each, and trying a
question as a reader would.

Each function takes the actor first, asks the permission service, and leaves an audit
event (citewise.audit.record) for what it changed. Creating and deleting go through
services.create_knowledge_base and services.delete_knowledge_base.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from citewise.audit.models import Action
from citewise.audit.services import changes, record
from citewise.knowledge.languages import model_awaits_documents, queue_reembedding
from citewise.knowledge.models import (
    DocumentStatus,
    KnowledgeBase,
    LanguageHint,
)
from citewise.knowledge.permissions import (
    Actor,
    can_edit,
    can_read,
    changeable_settings,
    editable_knowledge_bases,
    is_admin,
)
from citewise.knowledge.services import (
    access_of,
    create_knowledge_base,
    default_embedding_model,
    delete_knowledge_base,
    replace_examples,
    settings_of,
)

# The settings an audit event shows before and after a change, besides "examples".
SETTINGS = ("name", "description", "language", "embedding_model", "answer_backend",
            "instructions")
# Fixed once the knowledge base has documents: vectors of two models cannot share an
# index, and the language only chooses the model (languages.py).
FIXED_WITH_DOCUMENTS = frozenset({"language", "embedding_model"})


class KnowledgeBaseStatus(models.TextChoices):
    REINDEXING = "reindexing", _("Re-indexing")
    INDEXING = "indexing", _("Indexing")
    FAILURES = "failures", _("Has failures")
    EMPTY = "empty", _("No documents")
    READY = "ready", _("Ready")


class SettingFixed(Exception):
    """The language or embedding model of a knowledge base with documents was to change."""

    code = "setting_fixed"


class NothingToReindex(Exception):
    """The knowledge base has no passages yet: nothing to embed again."""

    code = "nothing_to_reindex"


@dataclass(frozen=True)
class Example:
    """A few-shot example as the console edits it (AnswerExample without its position:
    a list of them is in the order the LLM sees them)."""

    question: str
    answer: str
    source: str = ""


@dataclass(frozen=True)
class Summary:
    """A knowledge base with its documents counted; sizes in bytes."""

    knowledge_base: KnowledgeBase
    documents: int
    indexed: int
    busy: int  # queued or being processed
    failed: int
    size: int
    last_update: datetime

    @property
    def model_awaits_documents(self) -> bool:
        """Its model is the English default only until its documents show their language."""
        return model_awaits_documents(self.knowledge_base)

    @property
    def busy_now(self) -> bool:
        """Documents are being indexed or passages re-embedded: its page follows them."""
        return self.status in (KnowledgeBaseStatus.INDEXING, KnowledgeBaseStatus.REINDEXING)

    @property
    def status(self) -> KnowledgeBaseStatus:
        if self.knowledge_base.pending_embedding_model:
            return KnowledgeBaseStatus.REINDEXING
        if self.busy:
            return KnowledgeBaseStatus.INDEXING
        if self.failed:
            return KnowledgeBaseStatus.FAILURES
        return KnowledgeBaseStatus.READY if self.documents else KnowledgeBaseStatus.EMPTY


@dataclass(frozen=True)
class DeletionSummary:
    """What deleting a knowledge base removes, and what it leaves without links."""

    documents: int
    chunks: int  # passages, with their vectors
    examples: int
    conversations: int  # conversations with answers citing it: kept, citations unlinked
    api_keys: int  # keys that name it: they lose it (one naming only it reads nothing)


@dataclass(frozen=True)
class Trial:
    """A question tried in the console: the stored answer (chat.models.Message), or the
    answer service's failure code (inference.errors.ErrorCode) when nothing was stored."""

    message: Any = None
    failure: str = ""


# --- State ------------------------------------------------------------------------------

def _counted(knowledge_bases: QuerySet[KnowledgeBase]) -> QuerySet[KnowledgeBase]:
    """One query: each knowledge base with its documents counted by status and summed."""
    busy = [DocumentStatus.QUEUED, DocumentStatus.PROCESSING]
    return knowledge_bases.annotate(
        document_count=Count("documents"),
        indexed_count=Count("documents", filter=Q(documents__status=DocumentStatus.INDEXED)),
        busy_count=Count("documents", filter=Q(documents__status__in=busy)),
        failed_count=Count("documents", filter=Q(documents__status=DocumentStatus.FAILED)),
        total_size=Coalesce(Sum("documents__size"), 0),
        last_document_update=Max("documents__updated_at"),
    )


def _summary(kb: KnowledgeBase) -> Summary:
    latest = max(filter(None, (kb.updated_at, kb.last_document_update)))
    return Summary(kb, documents=kb.document_count, indexed=kb.indexed_count,
                   busy=kb.busy_count, failed=kb.failed_count, size=kb.total_size,
                   last_update=latest)


def summaries(actor: Actor) -> list[Summary]:
    """The knowledge bases the actor may edit (all for an admin), by name, counted in one
    query."""
    return [_summary(kb) for kb in _counted(editable_knowledge_bases(actor)).order_by("name")]


def summary_of(kb: KnowledgeBase) -> Summary:
    return _summary(_counted(KnowledgeBase.objects.filter(pk=kb.pk)).get())


def deletion_summary(kb: KnowledgeBase) -> DeletionSummary:
    from citewise.accounts.models import ApiKey
    from citewise.chat.models import Conversation

    citing = Conversation.objects.filter(messages__citations__knowledge_base=kb)
    return DeletionSummary(
        documents=kb.documents.count(), chunks=kb.chunks.count(),
        examples=kb.answer_examples.count(), conversations=citing.distinct().count(),
        api_keys=ApiKey.objects.filter(knowledge_bases=kb).count())


def embedding_models(kb: KnowledgeBase | None = None) -> list[str]:
    """The embedding models an admin may pick: the server's English and multilingual
    models (CITEWISE_EMBEDDING_MODEL, CITEWISE_EMBEDDING_MODEL_KO), and the knowledge
    base's own if it was given another (the command line or Django's admin allow any)."""
    offered = [settings.EMBEDDING_MODEL, settings.EMBEDDING_MODEL_KOREAN]
    if kb is not None:
        offered.append(kb.embedding_model)
    return list(dict.fromkeys(offered))


def fixed_settings(kb: KnowledgeBase) -> frozenset[str]:
    """The settings that may no longer change: the language and embedding model once the
    knowledge base has documents."""
    return FIXED_WITH_DOCUMENTS if kb.documents.exists() else frozenset()


# --- Changes ----------------------------------------------------------------------------

def create(actor: Actor, *, name: str, slug: str, description: str = "",
           language: str = LanguageHint.AUTO, embedding_model: str = "",
           answer_backend: str = "", instructions: str = "",
           examples: Sequence[Example] = ()) -> KnowledgeBase:
    """A new knowledge base; an empty embedding_model is the language's default
    (services.default_embedding_model). Admins only (PermissionDenied)."""
    if not is_admin(actor):
        raise PermissionDenied("only administrators create knowledge bases")
    with transaction.atomic():
        kb = create_knowledge_base(actor, name=name, slug=slug, description=description,
                                   language=language, embedding_model=embedding_model or None,
                                   answer_backend=answer_backend, instructions=instructions,
                                   examples=examples)
    return kb


def change_settings(actor: Actor, kb: KnowledgeBase, values: Mapping[str, Any]) -> bool:
    """Apply `values` (setting name -> new value; "examples": a list of Example in their
    order; an empty "embedding_model" is the language's default). Returns whether
    anything changed. Raises PermissionDenied for a setting the actor may not change
    (permissions.changeable_settings) and SettingFixed for a new language or embedding
    model on a knowledge base with documents."""
    refused = set(values) - changeable_settings(actor, kb)
    if refused:
        raise PermissionDenied(f"you may not change {', '.join(sorted(refused))} of {kb.name}")
    values = dict(values)
    if values.get("embedding_model") == "":
        values["embedding_model"] = default_embedding_model(values.get("language", kb.language))
    with transaction.atomic():
        kb = KnowledgeBase.objects.select_for_update().get(pk=kb.pk)
        before = settings_of(kb)
        moved = {name for name in fixed_settings(kb) if name in values
                 and values[name] != before[name]}
        if moved:
            raise SettingFixed(f"{kb.name} has documents: its {' and '.join(sorted(moved))} "
                               "can no longer change")
        changed = [name for name in SETTINGS if name in values and values[name] != before[name]]
        for name in changed:
            setattr(kb, name, values[name])
        if "examples" in values:
            replace_examples(kb, values["examples"])
        old, new = changes(before, settings_of(kb))
        if new:
            kb.save(update_fields=[*changed, "updated_at"])
            record(actor, Action.KNOWLEDGE_BASE_CHANGED, kb, before=old, after=new)
    return bool(new)


def delete(actor: Actor, kb: KnowledgeBase) -> DeletionSummary:
    """Delete the knowledge base, its documents (originals no other document shares,
    page images), passages, examples and index files (services.delete_knowledge_base).
    Conversations stay; their citations of it keep their words but lose their links.
    The audit event is written first and keeps the name. Admins only."""
    if not is_admin(actor):
        raise PermissionDenied("only administrators delete knowledge bases")
    removed = deletion_summary(kb)
    delete_knowledge_base(actor, kb)  # which writes the audit event first
    return removed


def reindex(actor: Actor, kb: KnowledgeBase) -> str:
    """Queue the re-embedding of every passage with the knowledge base's model and the
    rebuild of its index files from the database (the reembed task, languages.py); the
    current index answers until the swap. Documents are not read again. A re-embedding
    already under way (e.g. into the multilingual model) is resumed, not restarted.
    Returns the model embedded into. Raises PermissionDenied (not an editor) and
    NothingToReindex (no passages yet)."""
    if not can_edit(actor, kb):
        raise PermissionDenied(f"you may not re-index {kb.name}")
    with transaction.atomic():
        locked = KnowledgeBase.objects.select_for_update().get(pk=kb.pk)
        if not locked.chunks.exists():
            raise NothingToReindex(f"{kb.name} has no passages to re-index")
        resumed = bool(locked.pending_embedding_model)
        if not resumed:
            locked.pending_embedding_model = locked.embedding_model
            locked.save(update_fields=["pending_embedding_model"])
        queue_reembedding(locked)
        record(actor, Action.REINDEXED, locked,
               after={"embedding_model": locked.pending_embedding_model},
               detail="resumed the re-embedding under way" if resumed else "")
    kb.pending_embedding_model = locked.pending_embedding_model
    return locked.pending_embedding_model


# --- Access -----------------------------------------------------------------------------

def set_access(actor: Actor, kb: KnowledgeBase, *, readers: Iterable[Any],
               reader_groups: Iterable[Group], editors: Iterable[Any],
               editor_groups: Iterable[Group], readable_by_all: bool) -> bool:
    """Grant reading to exactly these users and groups (or everyone signed in) and
    editing to exactly these; those left out lose it. Returns whether anything changed
    (an audit event says what). Admins only (PermissionDenied)."""
    if not is_admin(actor):
        raise PermissionDenied("only administrators decide who reads and edits")
    with transaction.atomic():
        before = access_of(kb)
        kb.readable_by_all = readable_by_all
        kb.save(update_fields=["readable_by_all", "updated_at"])
        kb.reader_users.set(readers)
        kb.reader_groups.set(reader_groups)
        kb.editor_users.set(editors)
        kb.editor_groups.set(editor_groups)
        old, new = changes(before, access_of(kb))
        if new:
            record(actor, Action.ACCESS_CHANGED, kb, before=old, after=new)
    return bool(new)


# --- Trying a question ------------------------------------------------------------------

def try_question(actor: Actor, kb: KnowledgeBase, question: str) -> Trial:
    """Ask this knowledge base alone, as the actor, and wait for the whole answer. The
    ask service stores every exchange, so the question and its answer become a
    conversation of the actor's (and count in the reports, as any question does); a
    failed answer leaves none. Raises PermissionDenied when the actor may not read it and
    ValueError for an empty question."""
    from citewise.chat import conversations
    from citewise.chat.events import AskFailed, AskResult
    from citewise.chat.models import Message
    from citewise.chat.services import ask

    if not can_read(actor, kb):
        raise PermissionDenied(f"you may not read {kb.name}")
    if not question.strip():
        raise ValueError("the question is empty")
    conversation = conversations.start_conversation(actor, question.strip(), [kb])
    outcome = Trial()
    for event in ask(actor, question, knowledge_bases=[kb], conversation=conversation):
        if isinstance(event, AskResult):
            outcome = Trial(message=Message.objects.get(pk=event.message_id))
        elif isinstance(event, AskFailed):
            outcome = Trial(failure=event.code)
    if outcome.message is None:
        conversations.discard_if_empty(conversation)
    return outcome
