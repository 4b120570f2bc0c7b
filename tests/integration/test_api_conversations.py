"""/api/v1/conversations and feedback: a key sees its own conversations (not another
key's, even of the same owner), their answers with the citations it may still read, and
rates its own answers only."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from citewise.chat.models import Conversation, Feedback
from citewise.chat.services import history_of
from citewise.knowledge.permissions import KeyActor
from tests.integration.api_support import ApiClient, assert_problem, new_key

pytestmark = pytest.mark.django_db(transaction=True)

CONVERSATIONS = "/api/v1/conversations"


def body(response) -> dict:
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def ask(client: ApiClient, question: str, **fields) -> dict:
    return body(client.post("/api/v1/ask", {"question": question, **fields}))


def test_each_key_lists_and_reads_only_its_own_conversations(owner, kb_a):
    mine, theirs = ApiClient(new_key(owner, [kb_a])), ApiClient(new_key(owner, [kb_a]))
    first = ask(mine, "How often do passwords expire?")
    ask(mine, "How do I reset my password?", conversation_id=first["conversation_id"])
    second = ask(mine, "Which VPN client do employees use?")
    other = ask(theirs, "How often do passwords expire?")

    listed = body(mine.get(CONVERSATIONS))
    assert [c["id"] for c in listed["results"]] == [second["conversation_id"],
                                                    first["conversation_id"]]
    assert listed["results"][1]["title"] == "How often do passwords expire?"
    assert listed["results"][1]["knowledge_bases"] == ["it-handbook"]
    page = body(mine.get(f"{CONVERSATIONS}?limit=1"))
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]
    assert [c["id"] for c in body(theirs.get(CONVERSATIONS))["results"]] == [
        other["conversation_id"]]
    assert_problem(mine.get(f"{CONVERSATIONS}/{other['conversation_id']}"), 404, "not_found")
    assert_problem(theirs.get(f"{CONVERSATIONS}/{first['conversation_id']}"), 404, "not_found")

    detail = body(mine.get(f"{CONVERSATIONS}/{first['conversation_id']}"))
    assert [(m["role"], m["text"]) for m in detail["messages"][::2]] == [
        ("user", "How often do passwords expire?"), ("user", "How do I reset my password?")]
    answer = detail["messages"][1]
    assert answer["id"] == first["message_id"] and answer["text"] == first["answer"]
    assert answer["citations"] == first["citations"]
    assert answer["grounded"] and answer["feedback"] is None
    assert detail["messages"][0]["citations"] == []


def test_citations_of_a_knowledge_base_the_key_no_longer_reads_disappear(owner, kb_a, kb_b):
    client = ApiClient(new_key(owner, [kb_a, kb_b]))
    asked = ask(client, "Who rotates the vault passwords?", knowledge_bases=["board"])
    assert {c["knowledge_base"] for c in asked["citations"]} == {"board"}
    kb_b.reader_users.remove(owner)
    detail = body(client.get(f"{CONVERSATIONS}/{asked['conversation_id']}"))
    assert detail["knowledge_bases"] == [] and detail["messages"][1]["citations"] == []
    assert body(client.get(CONVERSATIONS))["results"][0]["knowledge_bases"] == []
    # The answer's words came from B's passage: withheld too, saying why.
    assert "secretary" in asked["answer"]
    answer = detail["messages"][1]
    assert "secretary" not in json.dumps(detail)
    assert answer["withheld"] is True and "no longer" in answer["text"]


def test_a_longer_conversation_costs_no_more_queries_to_read(owner, kb_a):
    """Which knowledge bases the key reads is asked once per conversation, not once per
    answer and field (the text, withheld, citations and closest documents each asked)."""
    client = ApiClient(new_key(owner, [kb_a]))
    first = ask(client, "How often do passwords expire?")
    url = f"{CONVERSATIONS}/{first['conversation_id']}"
    with CaptureQueriesContext(connection) as short:
        body(client.get(url))
    for question in ("How do I reset my password?", "Which VPN client do employees use?"):
        ask(client, question, conversation_id=first["conversation_id"])
    with CaptureQueriesContext(connection) as long:
        assert len(body(client.get(url))["messages"]) == 6
    assert len(long.captured_queries) == len(short.captured_queries)


def test_a_follow_up_does_not_feed_a_withheld_answer_to_the_model(owner, kb_a, kb_b):
    key = new_key(owner, [kb_a, kb_b])
    asked = ask(ApiClient(key), "Who rotates the vault passwords?", knowledge_bases=["board"])
    conversation = Conversation.objects.get(pk=asked["conversation_id"])
    actor = KeyActor(conversation.api_key)
    assert "secretary" in " ".join(turn.content for turn in history_of(actor, conversation))
    kb_b.reader_users.remove(owner)
    assert "secretary" not in " ".join(turn.content for turn in history_of(actor, conversation))


def test_feedback_rates_the_keys_own_answers(owner, kb_a):
    mine, theirs = ApiClient(new_key(owner, [kb_a])), ApiClient(new_key(owner, [kb_a]))
    answer = ask(mine, "How often do passwords expire?")
    url = f"/api/v1/messages/{answer['message_id']}/feedback"
    given = body(mine.post(url, {"rating": "down", "comment": " Too short. "}))
    assert given == {"message_id": answer["message_id"], "rating": "down",
                     "comment": "Too short."}
    body(mine.post(url, {"rating": "up"}))  # again: replaces the first rating
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment, feedback.user) == ("up", "", owner)
    detail = body(mine.get(f"{CONVERSATIONS}/{answer['conversation_id']}"))
    assert detail["messages"][1]["feedback"] == {"message_id": answer["message_id"],
                                                 "rating": "up", "comment": ""}

    assert_problem(theirs.post(url, {"rating": "down"}), 404, "not_found")
    question_id = detail["messages"][0]["id"]
    assert_problem(mine.post(f"/api/v1/messages/{question_id}/feedback", {"rating": "up"}),
                   404, "not_found")
    problem = assert_problem(mine.post(url, {"rating": "meh"}), 400, "validation_error")
    assert set(problem["errors"]) == {"rating"}
    assert Feedback.objects.get().rating == "up"
