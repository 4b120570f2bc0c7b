"""Values every page's header needs."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from citewise.knowledge.permissions import is_admin, may_use_console


def console_link(request: HttpRequest) -> dict:
    # Lazy: the query runs only on pages that render the header for a signed-in person.
    return {"may_use_console": SimpleLazyObject(lambda: may_use_console(request.user)),
            "console_admin": SimpleLazyObject(lambda: is_admin(request.user))}
