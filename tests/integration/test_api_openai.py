"""/v1/ (the OpenAI-compatible endpoints) with the official `openai` client against a
live uvicorn server, as a helpdesk bot built with the stock SDK uses them: models,
cited answers whole and streamed, follow-ups from the history the client keeps, and
OpenAI's exceptions for every refusal."""

from __future__ import annotations

import re

import httpx
import openai
import pytest

from citewise.accounts import keys
from citewise.api.openai_render import answer_of, footnote_refs, footnotes
from citewise.chat.models import Conversation
from inference.languages import not_found_message
from tests.integration.api_support import new_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

QUESTION = "How often do passwords expire?"


def bot(server: str, key: str, **options) -> openai.OpenAI:
    # No retries: the SDK would otherwise wait out a 429 and try again.
    return openai.OpenAI(base_url=f"{server}/v1", api_key=key, max_retries=0, timeout=120,
                         **options)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_a_stock_openai_client_gets_cited_answers_whole_and_streamed(server, owner, kb_a,
                                                                     kb_b):
    client = bot(server, new_key(owner, [kb_a]))
    models = client.models.list().data
    assert [(m.id, m.object, m.owned_by) for m in models] == [("it-handbook", "model",
                                                               "citewise")]
    assert models[0].created == int(kb_a.created_at.timestamp())

    reply = client.chat.completions.create(model="it-handbook", messages=[
        {"role": "system", "content": "You are the helpdesk bot."}, user(QUESTION)])
    message = reply.choices[0].message
    citations = message.model_extra["citations"]
    assert "90 days" in message.content and "[^1]" in message.content
    assert citations[0]["knowledge_base"] == "it-handbook" and citations[0]["supported"]
    assert citations[0]["source_url"].startswith(f"{server}/sources/")
    # The quoted sentence is on line 10 of handbook.md (tests/integration/api_support.py).
    assert (citations[0]["line"], citations[0]["location"]) == (10, "line 10")
    assert re.search(rf"^\[\^1\]: \[IT handbook\]\({re.escape(citations[0]['source_url'])}\), "
                     r"line 10$", message.content, flags=re.MULTILINE)
    assert message.model_extra["grounded"] and not message.model_extra["not_found"]
    assert reply.choices[0].finish_reason == "stop" and reply.model == "it-handbook"
    usage = reply.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    chunks = list(client.chat.completions.create(
        model="it-handbook", messages=[user(QUESTION)], stream=True,
        stream_options={"include_usage": True}))
    with_choices = [chunk for chunk in chunks if chunk.choices]
    pieces = [chunk.choices[0].delta.content or "" for chunk in with_choices]
    assert sum(1 for piece in pieces if piece) > 1  # the answer, then its footnotes
    assert "".join(pieces) == message.content
    last = with_choices[-1].choices[0]
    assert last.finish_reason == "stop" and last.delta.model_extra["citations"] == citations
    assert chunks[-1].choices == [] and chunks[-1].usage == usage
    assert len({chunk.id for chunk in chunks}) == 1


def test_a_follow_up_is_answered_from_the_history_the_client_sends(server, owner, kb_a):
    key = new_key(owner, [kb_a])
    client = bot(server, key)

    def ask(*messages: dict):
        return client.chat.completions.create(model="it-handbook",
                                              messages=list(messages)).choices[0].message

    first = ask(user("Which VPN client do employees use?"))
    alone = ask(user("Who sends it?"))
    assert alone.model_extra["not_found"] and alone.model_extra["citations"] == []
    assert alone.content.startswith(not_found_message("en", kb_a.name))
    follow_up = ask(user("Which VPN client do employees use?"),
                    {"role": "assistant", "content": first.content}, user("Who sends it?"))
    assert not follow_up.model_extra["not_found"] and "IT desk" in follow_up.content
    # Each call is a conversation of the key's own, titled by its question.
    stored = Conversation.objects.filter(api_key__prefix=key.split(".")[0]).order_by("pk")
    assert [c.title for c in stored] == ["Which VPN client do employees use?",
                                         "Who sends it?", "Who sends it?"]
    assert [m.role for m in stored.last().messages.order_by("pk")] == ["user", "assistant"]


def test_refusals_are_openai_errors(server, owner, kb_a, kb_b):
    client = bot(server, new_key(owner, [kb_a]))
    refusals = {}
    # The board exists and the key's owner reads it: for this key it does not exist.
    for model in ("no-such-kb", "board", "it-handbook+board"):
        with pytest.raises(openai.NotFoundError) as refused:
            client.chat.completions.create(model=model, messages=[user(QUESTION)])
        assert refused.value.code == "model_not_found"
        refusals[model] = refused.value.message.replace(model, "MODEL")
    assert len(set(refusals.values())) == 1
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("board")
    assert client.models.retrieve("it-handbook").id == "it-handbook"

    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="it-handbook", messages=[
            user(QUESTION), {"role": "assistant", "content": "An answer."}])
    assert bad.value.body["param"] == "messages" and bad.value.code == "invalid_value"

    search_only = bot(server, new_key(owner, [kb_a], operations=["search"]))
    with pytest.raises(openai.PermissionDeniedError) as forbidden:
        search_only.chat.completions.create(model="it-handbook", messages=[user(QUESTION)])
    assert forbidden.value.code == "scope_missing"

    revoked = new_key(owner, [kb_a])
    keys.revoke(revoked.split(".")[0])
    with pytest.raises(openai.AuthenticationError) as unauthorised:
        bot(server, revoked).models.list()
    assert unauthorised.value.code == "invalid_api_key"

    limited = bot(server, new_key(owner, [kb_a], rate_limit=1))
    limited.models.list()
    with pytest.raises(openai.RateLimitError) as throttled:
        limited.models.list()
    assert 0 < int(throttled.value.response.headers["retry-after"]) <= 60

    elsewhere = httpx.post(f"{server}/v1/embeddings", json={"input": "x"})
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "unknown_url"

    korean = bot(server, new_key(owner, [kb_a]), default_headers={"Accept-Language": "ko"})
    with pytest.raises(openai.NotFoundError) as in_korean:
        korean.chat.completions.create(model="board", messages=[user(QUESTION)])
    assert "존재하지 않거나" in in_korean.value.message


def test_citation_markers_become_footnotes_and_come_back_as_markers():
    assert footnote_refs("[1, 3]") == "[^1][^3]"
    assert footnote_refs("tuple([1, 2]) returns") == "tuple([1, 2]) returns"  # quoted text
    url = "https://cw.example/sources/9/?page=4#cited"
    notes = footnotes([{"n": 1, "title": "Guide [draft]", "document": "g.pdf", "page": 4,
                        "location": "page 4", "source_url": url}])
    assert notes == f"\n\n[^1]: [Guide \\[draft\\]]({url}), page 4"
    assert answer_of("Passwords expire every 90 days [^1]." + notes) == \
        "Passwords expire every 90 days [1]."
