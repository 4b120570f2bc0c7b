"""Writing to the audit log: record() is the one way in. Services call it where an action
happens (not views), so every door (console, admin, API, commands) leaves the same trace.
The client's address comes from the request being served (AuditContextMiddleware), or
none for commands and tasks."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from citewise.audit.models import Action, AuditEvent
from citewise.knowledge.permissions import SYSTEM, Actor, KeyActor

client_address_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_address", default=None)


def record(actor: Actor, action: Action, target: models.Model | None = None, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           detail: str = "", knowledge_base=None, actor_name: str = "") -> AuditEvent:
    """Append one event. `target`: the object acted on (its kind, id and str() are kept,
    so the row outlives it; a model whose primary key is not a short id names its own
    `audit_id`); `before`/`after`: JSON-able values of a change;
    `knowledge_base`: the one it concerns (filters); `actor_name`: for a failed sign-in,
    the name that was tried."""
    user, key_prefix = _who(actor)
    return AuditEvent.objects.create(
        action=action, user=user, api_key_prefix=key_prefix,
        actor=actor_name or _name(actor, user), address=client_address_var.get(),
        target_type=target._meta.model_name if target is not None else "",
        target_id=_id_of(target),
        target=str(target)[:300] if target is not None else "",
        knowledge_base=knowledge_base or _knowledge_base_of(target),
        before=before, after=after, detail=detail[:500])


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that differ, as (before, after)."""
    changed = [name for name in after if before.get(name) != after.get(name)]
    return ({name: before.get(name) for name in changed},
            {name: after.get(name) for name in changed})


@dataclass(frozen=True)
class EventFilter:
    """What the audit log page and its export show: an action (a value of Action), a
    person (username, any case; for a failed sign-in the name that was tried), a
    knowledge base, and a period of whole days in the current time zone, both ends
    included. Empty fields do not filter."""

    action: str = ""
    person: str = ""
    knowledge_base: Any = None
    since: date | None = None
    until: date | None = None


def events(chosen: EventFilter) -> models.QuerySet[AuditEvent]:
    """The events that match, newest first."""
    found = AuditEvent.objects.select_related("knowledge_base")
    if chosen.action:
        found = found.filter(action=chosen.action)
    if chosen.person:
        found = found.filter(actor__iexact=chosen.person)
    if chosen.knowledge_base is not None:
        found = found.filter(knowledge_base=chosen.knowledge_base)
    if chosen.since:
        found = found.filter(created_at__gte=_start_of(chosen.since))
    if chosen.until:
        found = found.filter(created_at__lt=_start_of(chosen.until + timedelta(days=1)))
    return found.order_by("-created_at", "-id")


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _id_of(target: models.Model | None) -> str:
    if target is None:
        return ""
    return str(getattr(target, "audit_id", target.pk))


def _who(actor: Actor):
    if isinstance(actor, KeyActor):
        return actor.owner, actor.key.prefix
    if actor is SYSTEM or not getattr(actor, "is_authenticated", False):
        return None, ""
    return actor, ""


def _name(actor: Actor, user) -> str:
    if user is not None:
        return user.get_username()
    return "system" if actor is SYSTEM else "anonymous"


def _knowledge_base_of(target: models.Model | None):
    from citewise.knowledge.models import KnowledgeBase

    if isinstance(target, KnowledgeBase):
        return target
    return getattr(target, "knowledge_base", None)
