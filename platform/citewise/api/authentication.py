"""`Authorization: Bearer <key>`: the API key is checked (citewise.accounts.keys) and the
request acts for the key's owner, within the key's scopes (KeyActor)."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from citewise.accounts import keys
from citewise.accounts.models import ApiKey
from citewise.api.problems import KeyRefused, ScopeMissing
from citewise.knowledge.permissions import KeyActor


class BearerKeyAuthentication(BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request):
        scheme, _space, token = get_authorization_header(request).decode(
            "latin-1").partition(" ")
        if scheme.lower() != self.keyword:
            return None  # no key: IsAuthenticated answers 401 not_authenticated
        try:
            key = keys.check(token.strip())
        except keys.KeyRejected as rejected:
            raise KeyRefused(rejected.problem) from None
        key.touch()
        return key.owner, key

    def authenticate_header(self, request) -> str:
        # Present on 401s, and what makes DRF answer 401 rather than 403.
        return 'Bearer realm="citewise"'


class KeyMayDo(BasePermission):
    """The view's `operation` (ask, search, documents) must be in the key's scopes."""

    def has_permission(self, request, view) -> bool:
        operation = getattr(view, "operation", None)
        if operation and not request.auth.allows(operation):
            raise ScopeMissing(operation)
        return True


def actor_of(request) -> KeyActor:
    key: ApiKey = request.auth
    return KeyActor(key)

