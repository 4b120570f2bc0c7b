"""Isolation over real HTTP, as programs meet it: the official `mcp` client at /mcp (tools
and resources) and the official `openai` client at /v1, against a live uvicorn server, in
generated scenarios (isolation_world.py). A key lists, reads, searches and answers from
exactly the knowledge bases it names that its owner may read; one it may not read is
refused with the words used for one that does not exist; a revoked or expired key, or
one whose owner may no longer sign in, gets nothing.

Fewer examples than the in-process property (test_isolation_property.py, which asks the
same doors' REST twins and every other door): each starts an MCP session and several
HTTP requests, and the ask service answers on the server.
"""

from __future__ import annotations

import json
from functools import partial

import httpx2
import openai
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import run_alone
from tests.integration.isolation_doors import canaries_in
from tests.integration.isolation_world import (
    CANARIES,
    KNOWLEDGE_BASES,
    QUESTION,
    SLUGS,
    Scenario,
    build_corpus,
    profile,
    realise,
    scenarios,
    undo,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROFILE = profile("isolation-live", ci_examples=25, dev_examples=5)
MISSING = "no-such-knowledge-base"
URI = "citewise://knowledge-bases/"


@pytest.fixture
def corpus():
    return build_corpus()


class Seen:
    """Everything a client got back, checked for canaries it may not see (a refusal may
    echo the slug that was asked for)."""

    def __init__(self, forbidden: set[str]) -> None:
        self.forbidden = forbidden

    def __call__(self, what: object, *, asked: str = "") -> str:
        text = what if isinstance(what, str) else json.dumps(what, ensure_ascii=False,
                                                             default=str)
        leaked = canaries_in(text, excused=asked) & self.forbidden
        assert not leaked, f"{asked or 'a listing'} shows {leaked}: {text[:300]}"
        return text


def mcp_session(server: str, key: str, work):
    async def session():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120)
        async with http, Client(streamable_http_client(f"{server}/mcp", http_client=http)) as c:
            return await work(c)

    return run_alone(session())


async def _read_resource(client, slug: str, seen: Seen) -> object:
    """The knowledge base's resource, or the refusal's words (the slug put aside)."""
    try:
        reading = (await client.read_resource(URI + slug)).model_dump()
    except MCPError as refused:
        reading = refused.error.message.replace(slug, "SLUG")
    seen(reading, asked=slug)
    return reading


async def _mcp_doors(client, *, target: str, shown: set[str], seen: Seen):
    """Resources listed and read, a search of `target` alone (refused as one that does
    not exist when the key may not read it); then a search and an answer from all."""
    resources = (await client.list_resources()).resources
    assert {r.name for r in resources} == shown
    seen([r.model_dump() for r in resources])
    readings = {slug: await _read_resource(client, slug, seen) for slug in (target, MISSING)}
    searches = {}
    for slug in (target, MISSING):
        found = await client.call_tool("search", {"query": QUESTION, "knowledge_bases": [slug]})
        searches[slug] = seen(found.content[0].text, asked=slug).replace(slug, "SLUG")
    if target not in shown:
        assert readings[target] == readings[MISSING]
        assert searches[target] == searches[MISSING]
    everything = await client.call_tool("search", {"query": QUESTION})
    answered = await client.call_tool("ask", {"question": QUESTION})
    return everything, answered


def through_mcp(server: str, key: str, scenario: Scenario, target: str, seen: Seen) -> None:
    shown = {SLUGS[c] for i, c in enumerate(CANARIES) if scenario.key_reads(i)}
    work = partial(_mcp_doors, target=target, shown=shown, seen=seen)
    if not scenario.key_works():
        with pytest.raises((MCPError, ExceptionGroup, httpx2.HTTPStatusError)):
            mcp_session(server, key, work)
        return
    everything, answered = mcp_session(server, key, work)
    for result, operation in ((everything, "search"), (answered, "ask")):
        seen(result.content[0].text)
        if operation not in scenario.key.operations:
            assert result.is_error
    if "search" in scenario.key.operations:
        slugs = {p["knowledge_base"] for p in everything.structured_content["passages"]}
        assert slugs == shown


def through_openai(server: str, key: str, scenario: Scenario, target: str,
                   seen: Seen) -> None:
    client = openai.OpenAI(base_url=f"{server}/v1", api_key=key, max_retries=0, timeout=120)
    if not scenario.key_works():
        with pytest.raises(openai.AuthenticationError):
            client.models.list()
        return
    shown = {SLUGS[c] for i, c in enumerate(CANARIES) if scenario.key_reads(i)}
    models = client.models.list()
    assert {m.id for m in models.data} == shown
    seen(models.model_dump())
    if target in shown:
        if "ask" in scenario.key.operations:
            stream = client.chat.completions.create(
                model=target, stream=True, messages=[{"role": "user", "content": QUESTION}])
            seen("".join(chunk.model_dump_json() for chunk in stream))
        return
    refusals = []
    for model in (target, MISSING):
        with pytest.raises(openai.NotFoundError) as refused:
            client.models.retrieve(model)
        refusals.append(seen(refused.value.message, asked=model).replace(model, "M"))
    for model in (target, MISSING):
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model=model, messages=[
                {"role": "user", "content": QUESTION}])
        refusals.append((refused.value.status_code,
                         seen(refused.value.message, asked=model).replace(model, "M")))
    assert refusals[0] == refusals[1] and refusals[2] == refusals[3]


@settings(PROFILE)
@given(scenario=scenarios, target=st.integers(0, KNOWLEDGE_BASES - 1))
def test_mcp_and_openai_clients_get_nothing_of_what_the_key_may_not_read(
        server, corpus, scenario: Scenario, target: int):
    note(f"{scenario!r}")
    realised = realise(corpus, scenario)
    try:
        seen = Seen({c for i, c in enumerate(CANARIES) if not scenario.key_reads(i)})
        slug = SLUGS[CANARIES[target]]
        through_mcp(server, realised.key, scenario, slug, seen)
        through_openai(server, realised.key, scenario, slug, seen)
    finally:
        undo(corpus, realised)
