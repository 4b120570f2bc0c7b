"""/api/v1/ through the Django test client: scopes, isolation between knowledge bases,
rate limits, problem details, ask (JSON and SSE), search, knowledge bases, the schema."""

from __future__ import annotations

import json

import pytest
import yaml
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from drf_spectacular.validation import validate_schema

from citewise.accounts.models import ApiKey
from citewise.chat.models import Conversation
from tests.factories import make_kb
from tests.integration.api_support import ApiClient, assert_problem, new_key, parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

ASK, SEARCH, KBS = "/api/v1/ask", "/api/v1/search", "/api/v1/knowledge-bases"
QUESTION = "How often do passwords expire?"


def test_a_search_only_key_may_not_ask(owner, kb_a):
    client = ApiClient(new_key(owner, [kb_a], operations=["search"]))
    problem = assert_problem(client.post(ASK, {"question": QUESTION}), 403, "scope_missing")
    assert "ask" in problem["detail"]
    assert client.post(SEARCH, {"query": "VPN"}).status_code == 200


def test_a_key_sees_only_its_knowledge_bases(owner, kb_a, kb_b):
    client = ApiClient(new_key(owner, [kb_a]))
    listed = json.loads(client.get(KBS).content)
    assert [kb["slug"] for kb in listed["results"]] == ["it-handbook"] and listed["count"] == 1
    assert json.loads(client.get(f"{KBS}/it-handbook").content)["name"] == kb_a.name
    # B exists and the owner reads it, yet for this key it is the same as no such thing.
    assert_problem(client.get(f"{KBS}/board"), 404, "not_found")
    assert_problem(client.get(f"{KBS}/no-such-kb"), 404, "not_found")
    assert_problem(client.post(ASK, {"question": "vault passwords",
                                     "knowledge_bases": ["board"]}), 404, "not_found")
    assert_problem(client.post(SEARCH, {"query": "vault", "knowledge_bases": ["board"]}),
                   404, "not_found")


def test_answers_and_passages_come_only_from_the_keys_knowledge_bases(owner, kb_a, kb_b):
    client = ApiClient(new_key(owner, [kb_a]))
    answer = json.loads(client.post(ASK, {"question": QUESTION}).content)
    assert answer["citations"]
    assert {c["knowledge_base"] for c in answer["citations"]} == {"it-handbook"}
    assert "30 days" not in answer["answer"]
    passages = json.loads(client.post(SEARCH, {"query": "vault passwords secretary"}).content)
    assert {p["knowledge_base"] for p in passages["passages"]} <= {"it-handbook"}


def test_taking_the_owners_access_away_cuts_the_key(owner, kb_a):
    client = ApiClient(new_key(owner, [kb_a]))
    kb_a.reader_users.remove(owner)
    assert json.loads(client.get(KBS).content)["results"] == []
    assert_problem(client.get(f"{KBS}/it-handbook"), 404, "not_found")
    assert_problem(client.post(ASK, {"question": QUESTION}), 404, "not_found")


def test_the_list_paginates(owner, kb_a, kb_b):
    for slug in ("c-kb", "d-kb"):
        make_kb(slug).reader_users.add(owner)
    client = ApiClient(new_key(owner, [kb_a, kb_b, *make_kb_pks()]))
    page = json.loads(client.get(f"{KBS}?limit=2&offset=1").content)
    assert page["count"] == 4 and len(page["results"]) == 2
    assert page["next"].startswith("http://testserver/api/v1/knowledge-bases?")


def make_kb_pks():
    from citewise.knowledge.models import KnowledgeBase

    return list(KnowledgeBase.objects.filter(slug__in=["c-kb", "d-kb"]))


def test_the_rate_limit_answers_429_with_retry_after(owner, kb_a):
    client = ApiClient(new_key(owner, [kb_a], rate_limit=2))
    assert [client.get(KBS).status_code for _ in range(2)] == [200, 200]
    refused = client.get(KBS)
    assert_problem(refused, 429, "rate_limited")
    assert 0 < int(refused["Retry-After"]) <= 60
    # Another key of the same owner has its own budget.
    assert ApiClient(new_key(owner, [kb_a])).get(KBS).status_code == 200


def test_invalid_input_is_a_problem_with_per_field_errors(owner, kb_a):
    client = ApiClient(new_key(owner, [kb_a]))
    problem = assert_problem(client.post(SEARCH, {"query": "", "k": 500}), 400,
                             "validation_error")
    assert set(problem["errors"]) == {"query", "k"}
    malformed = client.client.post(SEARCH, "{not json", content_type="application/json",
                                   headers=client.headers)
    assert_problem(malformed, 400, "parse_error")
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")
    # A bot POSTs without a CSRF token: an unknown address is still a problem, not the
    # HTML page of Django's CSRF check.
    strict = Client(enforce_csrf_checks=True)
    assert_problem(strict.post("/api/v1/nothing-here", "{}", content_type="application/json",
                               headers=client.headers), 404, "not_found")
    assert_problem(client.get(ASK), 405, "method_not_allowed")


def test_problems_speak_korean_when_asked(owner, kb_a):
    client = ApiClient(None, **{"Accept-Language": "ko"})
    problem = assert_problem(client.get(KBS), 401, "not_authenticated")
    assert problem["title"] == "인증이 필요합니다"


def test_ask_answers_with_cited_sources_and_a_conversation(owner, kb_a):
    client = ApiClient(new_key(owner, [kb_a]))
    response = client.post(ASK, {"question": QUESTION})
    answer = json.loads(response.content)
    assert response.status_code == 200 and "90 days" in answer["answer"]
    assert answer["grounded"] and not answer["not_found"]
    first = answer["citations"][0]
    assert first["n"] == 1 and first["document"] == "handbook.md" and first["supported"]
    assert first["source_url"].startswith("http://testserver/sources/")
    assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens"}
    conversation = Conversation.objects.get(pk=answer["conversation_id"])
    assert conversation.user == owner and conversation.api_key == ApiKey.objects.get()
    follow_up = json.loads(client.post(ASK, {"question": "and how do I reset it?",
                                             "conversation_id": conversation.pk}).content)
    assert follow_up["conversation_id"] == conversation.pk
    # Another key of the same owner cannot continue it.
    other = ApiClient(new_key(owner, [kb_a]))
    assert_problem(other.post(ASK, {"question": "more?", "conversation_id": conversation.pk}),
                   404, "not_found")


def test_a_question_the_documents_do_not_answer_is_not_found(owner, kb_a):
    client = ApiClient(new_key(owner, [kb_a]))
    answer = json.loads(client.post(ASK, {"question": "What is the capital city of Peru?"}).content)
    assert answer["not_found"] and not answer["grounded"] and answer["citations"] == []


def stream(key: str, body: dict) -> tuple[int, str, list[tuple[str, dict]]]:
    async def run():
        response = await AsyncClient().post(ASK, json.dumps(body),
                                            content_type="application/json",
                                            headers={"Authorization": f"Bearer {key}"})
        text = "".join([chunk.decode() async for chunk in response.streaming_content])
        return response.status_code, response["Content-Type"], parse_sse(text)
    return async_to_sync(run)()


def test_ask_streams_the_same_answer_as_events(owner, kb_a):
    key = new_key(owner, [kb_a])
    whole = json.loads(ApiClient(key).post(ASK, {"question": QUESTION}).content)
    status, content_type, events = stream(key, {"question": QUESTION, "stream": True})
    assert status == 200 and content_type.startswith("text/event-stream")
    names = [name for name, _ in events]
    assert names[0] == "delta" and names[-1] == "done"
    assert names.index("citation") > max(i for i, n in enumerate(names) if n == "delta")
    done = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "delta") == done["answer"]
    assert [data for name, data in events if name == "citation"] == done["citations"]
    ids = {"conversation_id", "message_id"}
    assert {k: v for k, v in done.items() if k not in ids} == \
           {k: v for k, v in whole.items() if k not in ids}


def test_schema_is_valid_openapi_3_and_docs_use_no_cdn():
    client = ApiClient(None)
    response = client.get("/api/schema/")
    schema = yaml.safe_load(response.content)
    validate_schema(schema)  # against the OpenAPI 3 JSON Schema drf-spectacular ships
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/ask", "/api/v1/search", "/api/v1/knowledge-bases",
            "/api/v1/knowledge-bases/{slug}", "/api/v1/documents", "/api/v1/documents/{id}",
            "/api/v1/conversations", "/api/v1/conversations/{id}",
            "/api/v1/messages/{id}/feedback"} <= set(schema["paths"])
    upload = schema["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["$ref"].endswith("/DocumentUpload")
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert "<style" not in page and "<script>" not in page
