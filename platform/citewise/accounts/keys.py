"""Creating, checking and revoking API keys (the command, the admin and the API's
authentication all go through here)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citewise.accounts.models import ApiKey, Operation
from citewise.knowledge.models import KnowledgeBase

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
               rate_limit: int | None = None) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which exists only in the return value: show it once."""
    fields = {"owner": owner, "name": name, "operations": list(operations)}
    if expires_in is not None:
        fields["expiry_date"] = timezone.now() + expires_in
    if rate_limit is not None:
        fields["rate_limit"] = rate_limit
    with transaction.atomic():
        key, plaintext = ApiKey.objects.create_key(**fields)
        key.knowledge_bases.set(knowledge_bases)
    return key, plaintext


def revoke(prefix: str) -> ApiKey | None:
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is not None and not key.revoked:
        key.revoked = True
        key.save(update_fields=["revoked"])
    return key


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
