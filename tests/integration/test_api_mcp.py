"""The MCP server at /mcp as an agent platform uses it: the official `mcp` client over
streamable HTTP against a live uvicorn server, with the key in the Authorization header.
The client runs on an event loop of its own (run_alone)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import httpx2
import pytest
from django.utils import timezone
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from citewise.accounts import keys
from citewise.accounts.models import ApiKey
from tests.helpers import REPO_ROOT, run_alone
from tests.integration.api_support import new_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
HANDBOOK_URI = "citewise://knowledge-bases/it-handbook"


def with_mcp(server: str, key: str, work, *, mode: str = "auto", language: str = "en",
             statuses: list[int] | None = None):
    """`await work(client)` with an MCP client connected to the server's /mcp (the HTTP
    statuses it got appended to `statuses`)."""
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": language}

    async def record(response):
        if statuses is not None:
            statuses.append(response.status_code)

    async def session():
        async with httpx2.AsyncClient(headers=headers, timeout=120,
                                      event_hooks={"response": [record]}) as http:
            transport = streamable_http_client(f"{server}/mcp", http_client=http)
            async with Client(transport, mode=mode) as client:
                return await work(client)

    return run_alone(session())


def structured(result) -> dict:
    """The tool's structured result, checked against its text twin."""
    if not result.is_error:
        assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def test_an_agent_sees_the_tools_and_the_knowledge_bases_of_its_key(server, owner, kb_a, kb_b):
    async def look(client):
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
        handbook = await client.read_resource(HANDBOOK_URI)
        return tools, resources, handbook

    key = new_key(owner, [kb_a])
    # "legacy": the initialize handshake most agent platforms speak today; "auto": the
    # client's default, which negotiates the 2026-07-28 revision.
    legacy = with_mcp(server, key, look, mode="legacy")
    tools, resources, handbook = with_mcp(server, key, look)
    assert [tool.name for tool in legacy[0]] == [tool.name for tool in tools]
    assert legacy[1] == resources
    assert {tool.name for tool in tools} == {"search", "ask"}
    ask_tool = next(tool for tool in tools if tool.name == "ask")
    assert ask_tool.input_schema["required"] == ["question"]
    assert "knowledge_bases" in ask_tool.input_schema["properties"]
    assert [(r.uri, r.name, r.title) for r in resources] == [
        (HANDBOOK_URI, "it-handbook", "It Handbook")]
    content = handbook.contents[0]
    assert content.mime_type == "application/json"
    assert json.loads(content.text) | {"created_at": None, "updated_at": None} == {
        "slug": "it-handbook", "name": "It Handbook", "description": "", "language": "en",
        "indexed_documents": 1, "created_at": None, "updated_at": None}


def test_search_and_ask_answer_with_citations_and_absolute_source_urls(server, owner, kb_a,
                                                                         kb_b):
    async def use(client):
        found = await client.call_tool("search", {"query": "VPN client", "k": 2})
        answer = await client.call_tool("ask", {"question": "How often do passwords expire?"})
        unanswered = await client.call_tool(
            "ask", {"question": "What is on the cafeteria menu on Friday?",
                    "knowledge_bases": ["it-handbook"]})
        return found, answer, unanswered

    found, answer, unanswered = with_mcp(server, new_key(owner, [kb_a]), use)
    passages = structured(found)["passages"]
    assert 1 <= len(passages) <= 2
    assert passages[0]["heading_path"][0] == "IT handbook"
    assert "WireGuard" in passages[0]["text"] and passages[0]["score"] > 0
    assert passages[0]["title"] and "page" in passages[0]
    assert passages[0]["source_url"].startswith(f"{server}/sources/")

    result = structured(answer)
    assert "90 days" in result["answer"] and result["grounded"] and not result["not_found"]
    citation = result["citations"][0]
    assert citation["n"] == 1 and f"[{citation['n']}]" in result["answer"]
    assert citation["document"] == "handbook.md" and citation["supported"]
    assert "90 days" in citation["snippet"] and "page" in citation and citation["title"]
    assert citation["heading_path"] == ["IT handbook", "Passwords"]
    assert citation["source_url"].startswith(f"{server}/sources/")

    refusal = structured(unanswered)
    assert refusal["not_found"] and not refusal["grounded"] and refusal["citations"] == []
    assert refusal["closest_documents"][0]["source_url"].startswith(f"{server}/sources/")


def test_a_key_without_the_ask_operation_sees_only_search_and_is_refused(server, owner, kb_a):
    async def use(client):
        listed = [tool.name for tool in (await client.list_tools()).tools]
        refused = await client.call_tool("ask", {"question": "How often do passwords expire?"})
        invalid = await client.call_tool("search", {"query": " ", "k": 99})
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("delete_everything", {})
        return listed, refused, invalid, unknown.value.error.message

    key = new_key(owner, [kb_a], operations=("search",))
    listed, refused, invalid, unknown = with_mcp(server, key, use)
    assert listed == ["search"]
    assert refused.is_error
    assert structured(refused)["code"] == "scope_missing"
    assert "may not use the “ask” operation" in refused.content[0].text
    assert invalid.is_error and structured(invalid)["code"] == "validation_error"
    assert "query:" in invalid.content[0].text and "k:" in invalid.content[0].text
    assert unknown == "There is no tool named “delete_everything”."
    in_korean = with_mcp(server, key, use, language="ko")[1]
    assert "“ask” 작업을 할 수 없습니다" in in_korean.content[0].text


def test_a_key_scoped_to_a_gets_nothing_from_b(server, owner, kb_a, kb_b):
    async def use(client):
        board = await client.call_tool("search", {"query": "vault passwords",
                                                  "knowledge_bases": ["board"]})
        missing = await client.call_tool("search", {"query": "vault passwords",
                                                    "knowledge_bases": ["no-such-kb"]})
        asked = await client.call_tool(
            "ask", {"question": "How often are the board's vault passwords rotated?"})
        everything = await client.call_tool("search", {"query": "board vault passwords"})
        unreadable = []
        for slug in ("board", "no-such-kb"):
            with pytest.raises(MCPError) as error:
                await client.read_resource(f"citewise://knowledge-bases/{slug}")
            unreadable.append(error.value.error.message)
        return board, missing, asked, everything, unreadable

    board, missing, asked, everything, unreadable = with_mcp(
        server, new_key(owner, [kb_a]), use)
    assert board.is_error and structured(board)["code"] == "not_found"
    assert board.content[0].text == missing.content[0].text.replace("no-such-kb", "board")
    answer = structured(asked)
    assert "30 days" not in json.dumps(answer)
    assert {c["knowledge_base"] for c in answer["citations"]} <= {"it-handbook"}
    assert {d["knowledge_base"] for d in answer["closest_documents"]} <= {"it-handbook"}
    assert {p["knowledge_base"] for p in structured(everything)["passages"]} == {"it-handbook"}
    assert unreadable[0] == unreadable[1].replace("no-such-kb", "board")


def test_no_valid_key_gets_401_and_a_key_over_its_limit_429_before_any_mcp(server, owner,
                                                                           kb_a):
    valid, revoked, expired = (new_key(owner, [kb_a]) for _ in range(3))
    keys.revoke(revoked.split(".")[0])
    ApiKey.objects.filter(prefix=expired.split(".")[0]).update(
        expiry_date=timezone.now() - timedelta(seconds=1))
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for key, code in ((None, "not_authenticated"), (f"{valid}x", "key_invalid"),
                      (revoked, "key_revoked"), (expired, "key_expired")):
        headers = {"Accept": "application/json, text/event-stream"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        response = httpx.post(f"{server}/mcp", json=listing, headers=headers, timeout=30)
        assert response.status_code == 401, code
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] == code
    korean = httpx.post(f"{server}/mcp", json=listing, headers={"Accept-Language": "ko"})
    assert korean.json()["title"] == "인증이 필요합니다"

    limited = {"Authorization": f"Bearer {new_key(owner, [kb_a], rate_limit=2)}",
               "Accept": "application/json, text/event-stream"}
    answered = [httpx.post(f"{server}/mcp", json=listing, headers=limited, timeout=30)
                for _ in range(3)]
    assert [r.status_code for r in answered] == [200, 200, 429], [r.text for r in answered]
    assert answered[2].json()["code"] == "rate_limited"
    assert int(answered[2].headers["Retry-After"]) > 0

    statuses = []
    with pytest.raises((MCPError, ExceptionGroup)):  # the SDK may group its error
        with_mcp(server, revoked, lambda client: client.list_tools(), statuses=statuses)
    assert statuses and set(statuses) == {401}


def test_the_python_example_in_the_docs_runs(server, owner, kb_a, capsys):
    docs = (REPO_ROOT / "docs" / "api.md").read_text()
    section = docs[docs.index("## MCP server"):docs.index("## Errors")]
    example = section.split("```python\n")[1].split("```")[0]
    namespace = {"BASE": server, "KEY": new_key(owner, [kb_a])}
    with ThreadPoolExecutor(1) as thread:  # its asyncio.run needs a thread without a loop
        thread.submit(exec, example, namespace).result()
    printed = capsys.readouterr().out
    assert "['search', 'ask']" in printed and HANDBOOK_URI in printed
    assert "90 days" in printed and f"[1] IT handbook: {server}/sources/" in printed
