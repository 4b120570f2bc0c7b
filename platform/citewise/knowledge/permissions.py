"""Who may read and who may edit a knowledge base: the one place that decides it.

Every path to a knowledge base, document, chunk, citation or answer (web, API,
OpenAI-compatible endpoint, source viewer, search, ask) asks this module. Management
commands act as SYSTEM, which may read and edit everything.

Rules:
- a superuser (an admin) reads and edits every knowledge base, creates and deletes them,
  decides who reads and edits each, and reads the audit log;
- an editor (user, or member of an editor group) reads and edits it: its documents,
  re-indexing, its description, instructions and answer examples (EDITOR_SETTINGS);
- a reader (user, member of a reader group, or anyone signed in when readable_by_all)
  reads it;
- an anonymous or inactive user reads nothing;
- an API key (KeyActor) reads a knowledge base iff the key names it AND the key's owner
  may read it (so taking a person's access away cuts their keys too); it edits one iff it
  also has the "documents" operation and the owner may edit it;
- in Django's admin, an admin manages every API key; a staff user given the key
  permissions manages only their own, scoped to knowledge bases they read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from citewise.knowledge.models import KnowledgeBase

if TYPE_CHECKING:
    from citewise.accounts.models import ApiKey


class _System:
    """The actor of management commands and background tasks."""

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM: Final = _System()


@dataclass(frozen=True)
class KeyActor:
    """A program acting through an API key, for the key's owner and within its scopes.
    The API's authentication checked the key (not revoked, not expired) on this request."""

    key: ApiKey

    @property
    def owner(self) -> AbstractBaseUser:
        return self.key.owner

    def __repr__(self) -> str:
        return f"KeyActor({self.key.prefix})"


Actor = AbstractBaseUser | AnonymousUser | _System | KeyActor


def acting_user(actor: Actor) -> AbstractBaseUser | None:
    """The person a conversation or a gap-report entry belongs to: a key's owner, a
    signed-in user, or nobody (SYSTEM, anonymous)."""
    if isinstance(actor, KeyActor):
        return actor.owner
    return actor if _is_active_user(actor) else None


def _is_active_user(actor: Actor) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False))


def _editor_filter(user: AbstractBaseUser) -> Q:
    return Q(editor_users=user) | Q(editor_groups__in=user.groups.all())


def _scoped(actor: Actor, rule: Callable[[AbstractBaseUser], Q]) -> QuerySet[KnowledgeBase]:
    if isinstance(actor, KeyActor):
        return _within_key(actor.key, _scoped(actor.owner, rule))
    everything = KnowledgeBase.objects.all()
    if actor is SYSTEM or (_is_active_user(actor) and actor.is_superuser):
        return everything
    if not _is_active_user(actor):
        return everything.none()
    # Distinct ids via a subquery: joins over the M2M tables would repeat rows.
    return everything.filter(pk__in=KnowledgeBase.objects.filter(rule(actor)).values("pk"))


def _within_key(key: ApiKey, owners: QuerySet[KnowledgeBase]) -> QuerySet[KnowledgeBase]:
    if key.revoked or key.has_expired:
        return owners.none()
    return owners.filter(pk__in=key.knowledge_bases.values("pk"))


def _reader_filter(user: AbstractBaseUser) -> Q:
    return (Q(readable_by_all=True) | Q(reader_users=user)
            | Q(reader_groups__in=user.groups.all()) | _editor_filter(user))


def readable_knowledge_bases(actor: Actor) -> QuerySet[KnowledgeBase]:
    return _scoped(actor, _reader_filter)


def editable_knowledge_bases(actor: Actor) -> QuerySet[KnowledgeBase]:
    if isinstance(actor, KeyActor) and not actor.key.allows("documents"):
        return KnowledgeBase.objects.none()
    return _scoped(actor, _editor_filter)


def is_admin(actor: Actor) -> bool:
    """Admins (superusers) manage everything: every knowledge base, who may read and edit
    it, the reports of all of them and the audit log. API keys never are."""
    return actor is SYSTEM or (_is_active_user(actor) and actor.is_superuser)


def may_use_console(actor: Actor) -> bool:
    """The console is for admins and for editors of at least one knowledge base."""
    if isinstance(actor, KeyActor) or not _is_active_user(actor):
        return False
    return is_admin(actor) or editable_knowledge_bases(actor).exists()


# The settings of a knowledge base an editor may change (its answers' tone and examples);
# an admin changes all of them. Whether the embedding model may still change is a fact
# of the data (no documents yet), decided by knowledge/administration.py.
EDITOR_SETTINGS: Final = frozenset({"description", "instructions", "examples"})
ADMIN_SETTINGS: Final = EDITOR_SETTINGS | {"name", "language", "embedding_model",
                                           "answer_backend"}


def changeable_settings(actor: Actor, knowledge_base: KnowledgeBase) -> frozenset[str]:
    """The names of the settings of `knowledge_base` this actor may change (none when
    they may not edit it)."""
    if is_admin(actor):
        return ADMIN_SETTINGS
    if not isinstance(actor, KeyActor) and can_edit(actor, knowledge_base):
        return EDITOR_SETTINGS
    return frozenset()


def readable_ids(actor: Actor) -> set[int]:
    return set(readable_knowledge_bases(actor).values_list("pk", flat=True))


def readable_slugs(actor: Actor) -> dict[int, str]:
    """{knowledge base id: slug} of those the actor reads: one query, for a caller that
    checks many messages or citations against it."""
    return dict(readable_knowledge_bases(actor).values_list("pk", "slug"))


def can_read(actor: Actor, knowledge_base: KnowledgeBase) -> bool:
    return readable_knowledge_bases(actor).filter(pk=knowledge_base.pk).exists()


def can_edit(actor: Actor, knowledge_base: KnowledgeBase) -> bool:
    return editable_knowledge_bases(actor).filter(pk=knowledge_base.pk).exists()


def readable_chunk(actor: Actor, chunk_id: int):
    """The chunk if the actor may read its knowledge base, else None (not found and not
    allowed look the same, so ids reveal nothing)."""
    from citewise.knowledge.models import Chunk, DocumentStatus

    return (Chunk.objects.select_related("document", "knowledge_base")
            .filter(pk=chunk_id, knowledge_base__in=readable_knowledge_bases(actor),
                    document__status=DocumentStatus.INDEXED).first())


def manageable_api_keys(actor: Actor):
    """The API keys an actor may see and change in Django's admin: every key for an
    admin; for anyone else (a staff user given the key permissions) their own keys only.
    Another person's key names the knowledge bases it reads, which may be ones this
    actor may not know exist."""
    from citewise.accounts.models import ApiKey

    if is_admin(actor):
        return ApiKey.objects.all()
    if isinstance(actor, KeyActor) or not _is_active_user(actor):
        return ApiKey.objects.none()
    return ApiKey.objects.filter(owner=actor)


def readable_documents(actor: Actor):
    """Every document (any status) of the knowledge bases the actor may read."""
    from citewise.knowledge.models import Document

    return (Document.objects.select_related("knowledge_base")
            .filter(knowledge_base__in=readable_knowledge_bases(actor)))


def readable_document(actor: Actor, document_id: int):
    return readable_documents(actor).filter(pk=document_id).first()
