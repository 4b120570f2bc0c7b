"""`Idempotency-Key` on uploads (the IETF httpapi draft's header): a request sent again
with the same key and the same body gets the first response back instead of acting
twice; the same key with another body is refused (422 idempotency_key_reused).

Two copies sent at once still act once: a request claims its key by inserting a row, in
the same transaction as the work, under a unique constraint on (API key,
Idempotency-Key). The second copy's insert waits for the first transaction (PostgreSQL
waits on the unique index, SQLite's BEGIN IMMEDIATE on the database's write lock), then
fails, and the second copy answers with the first one's committed response. If the first
fails, its transaction rolls back, claim and all, and the second does the work itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from citewise.accounts.models import ApiKey
from citewise.api.models import IdempotentRequest
from citewise.api.problems import IdempotencyKeyReused

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict
    replayed: bool


def key_of(request) -> str | None:
    """The request's Idempotency-Key (None without the header); ValidationError (400) for
    an empty one or one longer than MAX_KEY_LENGTH."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    value = value.strip()
    if not 0 < len(value) <= MAX_KEY_LENGTH:
        raise ValidationError({HEADER: [_("Send between 1 and %(n)d characters.")
                                        % {"n": MAX_KEY_LENGTH}]})
    return value


def fingerprint(fields: dict[str, str], upload: File) -> str:
    """sha256 hex of the request's fields and file: what "the same body" means. Leaves
    the file at its start for the next reader."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode())
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def once(api_key: ApiKey, key: str | None, fields: dict[str, str], upload: File,
         act: Callable[[], tuple[int, dict]]) -> Outcome:
    """Run `act` (-> status, JSON body) unless this API key already sent `key`: then the
    first response, replayed. Raises IdempotencyKeyReused when `key` came with another
    body (`fields` and `upload`). Without a key, `act` simply runs."""
    if key is None:
        return Outcome(*act(), replayed=False)
    request_fingerprint = fingerprint(fields, upload)
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the failed insert must not end ours
                claim = IdempotentRequest.objects.create(
                    api_key=api_key, key=key, fingerprint=request_fingerprint)
        except IntegrityError:
            return _replay(api_key, key, request_fingerprint)
        status, body = act()
        claim.status_code, claim.response = status, body
        claim.save(update_fields=["status_code", "response"])
    return Outcome(status, body, replayed=False)


def _replay(api_key: ApiKey, key: str, request_fingerprint: str) -> Outcome:
    first = IdempotentRequest.objects.get(api_key=api_key, key=key)
    if first.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused
    return Outcome(first.status_code, first.response, replayed=True)
