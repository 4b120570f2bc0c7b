"""Sign-in lockout (django-axes, configured in settings): the authentication backend that
refuses a user name and address locked out after repeated failed sign-ins."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):
    """axes' check, for sign-ins that come with a request (the sign-in pages, the admin's,
    an identity provider's callback). A call without one (a management command, a script
    on the server) has no address to count failures against and is left to the next
    backend, where axes' own backend would raise instead."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
