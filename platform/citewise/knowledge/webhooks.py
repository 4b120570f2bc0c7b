"""Webhook signatures and URLs: what Citewise signs and what a receiver checks.

A delivery is a POST of a JSON body with these headers:
- ``Citewise-Event``: ``document.indexed`` or ``document.failed``;
- ``Citewise-Delivery``: the delivery's id, the same on every attempt (deliveries are at
  least once: a receiver that must not act twice remembers the ids it has seen);
- ``Citewise-Timestamp``: Unix time of the attempt, in whole seconds;
- ``Citewise-Signature``: ``v1=`` and the hex HMAC-SHA256 of ``f"{timestamp}.{body}"``,
  keyed with the knowledge base's webhook secret (its UTF-8 bytes).

Signing the timestamp with the body lets a receiver refuse a captured delivery replayed
later. This module loads no models, so a receiver with Citewise installed can import
``verify`` from it; docs/api.md shows the same check in plain Python.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

SIGNATURE_VERSION = "v1"
SCHEMES = frozenset({"http", "https"})


def new_secret() -> str:
    """A fresh webhook secret: 64 hex characters (256 random bits)."""
    return secrets.token_hex(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``Citewise-Signature`` header for this timestamp and raw body: ``v1=<hex>``."""
    message = timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(secret: str, timestamp: str, body: bytes | str, signature: str,
           tolerance: int = 300, *, now: float | None = None) -> bool:
    """Whether a delivery really comes from Citewise, for a receiver to call.

    secret: the knowledge base's webhook secret (shown in the admin); timestamp and
    signature: the ``Citewise-Timestamp`` and ``Citewise-Signature`` headers; body: the
    request body exactly as received (bytes; a str is encoded as UTF-8). False when the
    signature does not match, or the timestamp is not a whole number or lies more than
    ``tolerance`` seconds from ``now`` (default: the current time), which refuses a
    recorded delivery replayed later. Compares in constant time.
    """
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, timestamp, raw), signature.strip())


def validate_webhook_url(url: str) -> None:
    """Refuse anything but an absolute http:// or https:// URL with a host.

    Raises ValidationError (code ``invalid_webhook_url``). Unlike Django's URLValidator it
    accepts intranet names without a dot (``http://helpdesk-bot:8080/hook``): on premises
    receivers are often named so. Private addresses are allowed for the same reason.
    """
    try:
        parts = urlsplit(url)
        valid = (parts.scheme.lower() in SCHEMES and bool(parts.hostname)
                 and not any(char.isspace() for char in url))
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        valid = False
    if not valid:
        raise ValidationError(
            _("Enter an http:// or https:// URL with a host name, such as "
              "https://helpdesk.example.com/citewise-hook."),
            code="invalid_webhook_url")
