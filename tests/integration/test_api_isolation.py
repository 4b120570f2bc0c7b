"""Isolation across every REST and OpenAI-compatible endpoint, in one place: a key scoped
to knowledge base A, whose owner may read and edit B too, gets 404 (or nothing listed)
for everything in B: the knowledge base, its passages, citations and closest documents,
its documents and their status, another key's conversations and answers about B. A
revoked or expired key gets 401 everywhere. (MCP: tests/integration/test_api_mcp.py.)"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from citewise.accounts import keys
from citewise.knowledge.models import Document
from tests.integration.api_support import ApiClient, assert_problem, new_key

pytestmark = pytest.mark.django_db(transaction=True)

ALL = ("ask", "search", "documents")
BOARD_QUESTION = "Who rotates the board's vault passwords?"


@pytest.fixture
def world(owner, kb_a, kb_b):
    """key A (scoped to A), and B's traces: a document, another key's conversation."""
    kb_a.editor_users.add(owner)
    kb_b.editor_users.add(owner)
    other = ApiClient(new_key(owner, [kb_b], operations=ALL))
    asked = json.loads(other.post("/api/v1/ask", {"question": BOARD_QUESTION}).content)
    assert asked["citations"], "B's key must see B's answer, or this test proves nothing"
    return {"client": ApiClient(new_key(owner, [kb_a], operations=ALL)),
            "document": Document.objects.get(knowledge_base=kb_b),
            "conversation": asked["conversation_id"], "message": asked["message_id"]}


def json_of(response) -> dict:
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def nothing_of_b(data) -> None:
    """No slug, document name, title or text of B (key A's own question may say "board")."""
    text = json.dumps(data, ensure_ascii=False)
    for trace in ('"board"', "minutes.md", "Board minutes", "secretary"):
        assert trace not in text, text


def test_rest_endpoints_show_nothing_of_another_knowledge_base(world):
    client, document = world["client"], world["document"]
    nothing_of_b(json_of(client.get("/api/v1/knowledge-bases")))
    assert_problem(client.get("/api/v1/knowledge-bases/board"), 404, "not_found")
    for path, body in (("/api/v1/search", {"query": "vault passwords"}),
                       ("/api/v1/ask", {"question": BOARD_QUESTION})):
        assert_problem(client.post(path, {**body, "knowledge_bases": ["board"]}), 404,
                       "not_found")
        nothing_of_b(json_of(client.post(path, body)))  # passages, citations, closest
    nothing_of_b(json_of(client.get("/api/v1/documents")))
    assert_problem(client.get("/api/v1/documents?knowledge_base=board"), 404, "not_found")
    assert_problem(client.get(f"/api/v1/documents/{document.pk}"), 404, "not_found")
    assert_problem(client.delete(f"/api/v1/documents/{document.pk}"), 404, "not_found")
    assert_problem(client.upload("new.md", b"# New\n\nText.", "board"), 404, "not_found")
    nothing_of_b(json_of(client.get("/api/v1/conversations")))
    assert_problem(client.get(f"/api/v1/conversations/{world['conversation']}"), 404,
                   "not_found")
    assert_problem(client.post(f"/api/v1/messages/{world['message']}/feedback",
                               {"rating": "up"}), 404, "not_found")
    assert Document.objects.filter(pk=document.pk).exists()


def test_openai_endpoints_show_nothing_of_another_knowledge_base(world):
    client = world["client"]
    models = json_of(client.get("/v1/models"))
    assert [m["id"] for m in models["data"]] == ["it-handbook"]
    for model in ("board", "it-handbook+board"):
        refused = client.post("/v1/chat/completions", {
            "model": model, "messages": [{"role": "user", "content": BOARD_QUESTION}]})
        assert refused.status_code == 404
        assert json.loads(refused.content)["error"]["code"] == "model_not_found"
        nothing_of_b(json.loads(refused.content))
    assert client.get("/v1/models/board").status_code == 404
    nothing_of_b(json_of(client.post("/v1/chat/completions", {
        "model": "it-handbook", "messages": [{"role": "user", "content": BOARD_QUESTION}]})))


ENDPOINTS = (("get", "/api/v1/knowledge-bases"), ("post", "/api/v1/search"),
             ("post", "/api/v1/ask"), ("get", "/api/v1/documents"),
             ("get", "/api/v1/conversations"), ("get", "/v1/models"),
             ("post", "/v1/chat/completions"))


@pytest.mark.parametrize("ended", ["revoked", "expired"])
def test_a_revoked_or_expired_key_gets_401_everywhere(owner, kb_a, ended):
    key = new_key(owner, [kb_a], operations=ALL)
    record = keys.check(key)
    if ended == "revoked":
        keys.revoke(record.prefix)
    else:
        record.expiry_date = timezone.now() - timedelta(minutes=1)
        record.save()
    client = ApiClient(key)
    for method, path in ENDPOINTS:
        response = client.get(path) if method == "get" else client.post(path, {})
        assert response.status_code == 401, (path, response.content)
        body = json.loads(response.content)
        code = body["error"]["code"] if path.startswith("/v1/") else body["code"]
        assert code in ("invalid_api_key", f"key_{ended}"), (path, body)
