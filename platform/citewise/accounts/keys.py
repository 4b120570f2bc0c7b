"""Creating, checking and revoking API keys (the command, the admin and the API's
authentication all go through here). Creating, revoking and re-scoping a key is audited;
the command acts as SYSTEM."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citewise.accounts.models import ApiKey, Operation
from citewise.audit.models import Action
from citewise.audit.services import changes, record
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import SYSTEM, Actor

_DURATION = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class KeyProblem(TextChoices):
    """Why a key was refused (stable codes: the API's problem details carry them)."""

    INVALID = "key_invalid", _("The API key is not valid.")
    REVOKED = "key_revoked", _("The API key has been revoked.")
    EXPIRED = "key_expired", _("The API key has expired.")


class KeyRejected(Exception):
    def __init__(self, problem: KeyProblem) -> None:
        super().__init__(problem.label)
        self.problem = problem


def parse_duration(text: str) -> timedelta:
    """"90d", "12h", "2w" -> a timedelta (ValueError otherwise)."""
    match = _DURATION.match(text.strip())
    if not match or int(match[1]) == 0:
        raise ValueError(f"expected a duration such as 90d, 12h or 2w, not {text!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def parse_operations(text: str) -> list[str]:
    operations = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(operations) - set(Operation.values))
    if unknown or not operations:
        raise ValueError(f"scopes are {', '.join(Operation.values)}; not {', '.join(unknown)}")
    return [op for op in Operation.values if op in operations]  # stable order, no repeats


def create_key(*, owner, name: str, knowledge_bases: Iterable[KnowledgeBase],
               operations: Iterable[str], expires_in: timedelta | None = None,
               rate_limit: int | None = None, actor: Actor = SYSTEM) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which exists only in the return value: show it once.
    `actor`: who creates it, for the audit log."""
    fields = {"owner": owner, "name": name, "operations": list(operations)}
    if expires_in is not None:
        fields["expiry_date"] = timezone.now() + expires_in
    if rate_limit is not None:
        fields["rate_limit"] = rate_limit
    with transaction.atomic():
        key, plaintext = ApiKey.objects.create_key(**fields)
        key.knowledge_bases.set(knowledge_bases)
        record_created(actor, key)
    return key, plaintext


def revoke(prefix: str, *, actor: Actor = SYSTEM) -> ApiKey | None:
    """The key with this prefix, revoked (None if there is none)."""
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is not None and not key.revoked:
        with transaction.atomic():
            key.revoked = True
            key.save(update_fields=["revoked"])
            record(actor, Action.API_KEY_REVOKED, key)
    return key


def scope_of(key: ApiKey) -> dict:
    """What the audit log keeps of a key: {"prefix", "name", "owner", "knowledge_bases":
    [slugs], "operations", "rate_limit", "expires": ISO 8601 or None, "revoked"}."""
    return {"prefix": key.prefix, "name": key.name, "owner": key.owner.get_username(),
            "knowledge_bases": sorted(key.knowledge_bases.values_list("slug", flat=True)),
            "operations": list(key.operations), "rate_limit": key.rate_limit,
            "expires": key.expiry_date.isoformat() if key.expiry_date else None,
            "revoked": key.revoked}


def record_created(actor: Actor, key: ApiKey) -> None:
    record(actor, Action.API_KEY_CREATED, key, after=scope_of(key))


def record_changes(actor: Actor, key: ApiKey, before: dict) -> None:
    """Audit an edit of a key (the admin's form) against `before` (scope_of, as stored):
    revoking it as API_KEY_REVOKED, any other change of its scope as ACCESS_CHANGED."""
    old, new = changes(before, scope_of(key))
    if new.get("revoked"):
        del old["revoked"], new["revoked"]
        record(actor, Action.API_KEY_REVOKED, key)
    if new:
        record(actor, Action.ACCESS_CHANGED, key, before=old, after=new)


def check(plaintext: str) -> ApiKey:
    """The key whose plaintext this is, if it may be used now; else KeyRejected with the
    reason (a wrong secret and an unknown prefix read the same)."""
    prefix, _dot, _secret = plaintext.partition(".")
    key = ApiKey.objects.select_related("owner").filter(prefix=prefix).first()
    if key is None or not key.is_valid(plaintext):
        raise KeyRejected(KeyProblem.INVALID)
    if key.revoked:
        raise KeyRejected(KeyProblem.REVOKED)
    if key.has_expired:
        raise KeyRejected(KeyProblem.EXPIRED)
    if not key.owner.is_active:
        raise KeyRejected(KeyProblem.REVOKED)
    return key
