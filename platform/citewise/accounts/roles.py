"""A person's role, as the audit log keeps it: whether they may sign in, open Django's
admin, manage everything, and their groups (which grant access to knowledge bases)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from citewise.audit.models import Action
from citewise.audit.services import changes, record
from citewise.knowledge.permissions import Actor

ROLE_FIELDS = ("is_active", "is_staff", "is_superuser")


def role_of(user: AbstractBaseUser) -> dict:
    """{"is_active": bool, "is_staff": bool, "is_superuser": bool, "groups": [names]}."""
    values: dict = {name: getattr(user, name) for name in ROLE_FIELDS}
    values["groups"] = sorted(user.groups.values_list("name", flat=True))
    return values


def stored_role(user: AbstractBaseUser) -> dict:
    """role_of the user as stored (not the unsaved values of a form on `user`)."""
    return role_of(type(user).objects.get(pk=user.pk))


def record_role_change(actor: Actor, user: AbstractBaseUser, before: dict) -> None:
    """Audit the role's changes since `before` (role_of), if any, as ROLE_CHANGED."""
    old, new = changes(before, role_of(user))
    if new:
        record(actor, Action.ROLE_CHANGED, user, before=old, after=new)


def record_account_created(actor: Actor, user: AbstractBaseUser) -> None:
    """Audit a new account with the role it starts with, as ACCOUNT_CREATED."""
    record(actor, Action.ACCOUNT_CREATED, user, after=role_of(user))
