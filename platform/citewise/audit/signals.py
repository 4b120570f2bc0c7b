"""Sign-ins, failed sign-ins and sign-outs, from django.contrib.auth's signals: every way
in (the sign-in page, the admin's, an identity provider) sends them; lockouts after
repeated failures from django-axes' signal."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser

from citewise.audit.models import Action
from citewise.audit.services import record


def signed_in(sender: Any, *, user: Any, **_kwargs: Any) -> None:
    record(user, Action.SIGN_IN)


def sign_in_failed(sender: Any, *, credentials: dict, **_kwargs: Any) -> None:
    # Django has already masked the password in `credentials`; only the name is kept.
    tried = str(credentials.get("username") or "")[:150]
    record(AnonymousUser(), Action.SIGN_IN_FAILED, actor_name=tried or "anonymous")


def locked_out(sender: Any, *, username: str | None = None, **_kwargs: Any) -> None:
    """django-axes' user_locked_out: the name just locked out (its address is the
    request's, recorded as for every event)."""
    record(AnonymousUser(), Action.SIGN_IN_LOCKED_OUT,
           actor_name=str(username or "")[:150] or "anonymous")


def signed_out(sender: Any, *, user: Any, **_kwargs: Any) -> None:
    if user is not None:  # signing out without a session: nobody to name
        record(user, Action.SIGN_OUT)
