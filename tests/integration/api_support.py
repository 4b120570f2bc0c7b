"""Shared by the API tests: two knowledge bases (A: the IT handbook, B: the board's
secrets), an owner who reads both, and keys made the way an admin makes them."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from citewise.accounts import keys
from tests.factories import load_document, make_kb, make_user

HANDBOOK = """# IT handbook

## VPN

Employees connect to the office network with the WireGuard VPN client.
The VPN profile is sent by the IT desk when your laptop is issued.

## Passwords

Passwords expire every 90 days. You can reset your password in the self-service portal.
"""

BOARD = """# Board minutes

## Passwords

The board's vault passwords are rotated every 30 days by the company secretary.
"""


@pytest.fixture
def kb_a():
    kb = make_kb("it-handbook")
    load_document(kb, "handbook.md", HANDBOOK)
    return kb


@pytest.fixture
def kb_b():
    kb = make_kb("board")
    load_document(kb, "minutes.md", BOARD)
    return kb


@pytest.fixture
def owner(kb_a, kb_b):
    """A person who may read both knowledge bases: what a key reads is narrower."""
    user = make_user("helpdesk-owner")
    kb_a.reader_users.add(user)
    kb_b.reader_users.add(user)
    return user


def new_key(owner, kbs, *, operations=("ask", "search"), **fields) -> str:
    return keys.create_key(owner=owner, name="bot", knowledge_bases=kbs,
                           operations=operations, **fields)[1]


class ApiClient:
    """The Django test client with the key in the Authorization header."""

    def __init__(self, key: str | None, **headers: str) -> None:
        self.client = Client()
        self.headers = dict(headers)
        if key is not None:
            self.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str):
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, body: dict):
        return self.client.post(path, json.dumps(body), content_type="application/json",
                                headers=self.headers)

    def upload(self, name: str, content: bytes, knowledge_base: str, *,
               headers: dict[str, str] | None = None, **fields: str):
        """POST /api/v1/documents as multipart/form-data; `headers` adds e.g. an
        Idempotency-Key, `fields` e.g. a title."""
        return self.client.post(
            "/api/v1/documents", {"file": SimpleUploadedFile(name, content),
                                  "knowledge_base": knowledge_base, **fields},
            headers={**self.headers, **(headers or {})})

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert body["status"] == status and body["code"] == code
    assert body["title"] and body["type"].endswith(code)
    return body


def parse_sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if lines:
            name = next(line[7:] for line in lines if line.startswith("event: "))
            data = json.loads("".join(line[6:] for line in lines if line.startswith("data: ")))
            events.append((name, data))
    return events
