"""Webhook signatures: what a receiver's check accepts and refuses, in our helper and in
the plain-Python receiver docs/api.md gives customers."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

import pytest
from django.core.exceptions import ValidationError

from citewise.knowledge.webhooks import sign, validate_webhook_url, verify
from tests.helpers import REPO_ROOT

SECRET = "3f1c" * 16
BODY = b'{"event": "document.indexed", "document": {"id": 7, "name": "vpn.md"}}'
SENT_AT = 1_767_225_600
TIMESTAMP = str(SENT_AT)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{TIMESTAMP}.".encode() + BODY,
                        hashlib.sha256).hexdigest()
    assert sign(SECRET, TIMESTAMP, BODY) == f"v1={expected}"


def test_a_genuine_delivery_verifies_as_bytes_or_text():
    signature = sign(SECRET, TIMESTAMP, BODY)
    assert verify(SECRET, TIMESTAMP, BODY, signature, now=SENT_AT + 5)
    assert verify(SECRET, TIMESTAMP, BODY.decode(), signature, now=SENT_AT + 5)


@pytest.mark.parametrize(("secret", "timestamp", "body"), [
    (SECRET, TIMESTAMP, BODY.replace(b'"id": 7', b'"id": 8')),  # tampered body
    (SECRET, str(SENT_AT + 1), BODY),  # tampered timestamp
    ("0" * 64, TIMESTAMP, BODY),  # another knowledge base's secret
])
def test_a_tampered_or_foreign_delivery_is_refused(secret, timestamp, body):
    signature = sign(SECRET, TIMESTAMP, BODY)
    assert not verify(secret, timestamp, body, signature, now=SENT_AT + 5)


def test_an_old_delivery_is_refused_as_a_replay():
    signature = sign(SECRET, TIMESTAMP, BODY)
    assert verify(SECRET, TIMESTAMP, BODY, signature, now=SENT_AT + 300)
    assert not verify(SECRET, TIMESTAMP, BODY, signature, now=SENT_AT + 301)
    assert not verify(SECRET, TIMESTAMP, BODY, signature, now=SENT_AT - 301)  # from the future
    assert verify(SECRET, TIMESTAMP, BODY, signature, 3600, now=SENT_AT + 3000)


@pytest.mark.parametrize(("timestamp", "signature"), [
    ("", None), ("soon", None), (TIMESTAMP, ""), (TIMESTAMP, "v1="), (TIMESTAMP, "v0=abc"),
])
def test_malformed_headers_are_refused(timestamp, signature):
    signature = sign(SECRET, TIMESTAMP, BODY) if signature is None else signature
    assert not verify(SECRET, timestamp, BODY, signature, now=SENT_AT)


def docs_receiver() -> dict:
    """The Python receiver under "## Webhooks" in docs/api.md, run as a module would be
    imported (its server does not start)."""
    text = (REPO_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    namespace: dict = {"__name__": "receiver"}
    exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def test_the_documented_receiver_checks_signatures_as_citewise_makes_them():
    check = docs_receiver()["verify_signature"]
    now = str(int(time.time()))
    signature = sign(SECRET, now, BODY)
    assert check(SECRET, now, BODY, signature)
    assert not check(SECRET, now, BODY + b" ", signature)
    old = str(int(time.time()) - 400)
    assert not check(SECRET, old, BODY, sign(SECRET, old, BODY))


@pytest.mark.parametrize("url", [
    "https://helpdesk.example.com/citewise-hook", "http://helpdesk-bot:8080/hook",
    "http://10.0.0.7/hook?kb=it", "HTTPS://hooks.example.com/x",
])
def test_http_and_https_urls_are_accepted_intranet_names_included(url):
    validate_webhook_url(url)


@pytest.mark.parametrize("url", [
    "ftp://files.example.com/hook", "file:///etc/passwd", "javascript:alert(1)",
    "gopher://example.com/", "helpdesk.example.com/hook", "https://", "http://host:99999/",
    "https://exa mple.com/hook",
])
def test_other_schemes_and_broken_urls_are_refused(url):
    with pytest.raises(ValidationError) as refused:
        validate_webhook_url(url)
    assert refused.value.code == "invalid_webhook_url"
