"""/mcp: the Model Context Protocol server (streamable HTTP, the official `mcp` SDK), so
agent platforms can call Citewise as a tool.

- Tools: `search` (passages with scores) and `ask` (an answer with verified citations).
  A key sees only the tools its operations allow; calling another is a tool error
  (`scope_missing`).
- Resources: the knowledge bases the key may read, `citewise://knowledge-bases/<slug>`,
  each a JSON object. One the key may not read is exactly like one that does not exist.
- Auth: every HTTP request passes the REST API's own door first (KeyCheck: the Bearer
  key, the key's rate limit, problem details for a refusal), then reaches the SDK's app
  with the key in the ASGI scope.

Stateless, with JSON responses: every HTTP request stands alone, so any web process
behind a load balancer can answer it and the key is checked on each one; nothing needs
a session (the tools never call back to the client, and nobody subscribes to a
resource), and a tool's result arrives whole, so there is nothing to stream.

Handlers parse, call a service on a worker thread (the ORM and the ask service are
sync), and shape the result with the REST API's shapes (citewise.api.views).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from io import BytesIO
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, unquote

import mcp_types as types
from asgiref.sync import sync_to_async
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.exception import response_for_exception
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from mcp.server import Server, ServerRequestContext
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView
from starlette.responses import Response as StarletteResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citewise.accounts.models import Operation
from citewise.api.problems import ScopeMissing
from citewise.api.serializers import MAX_K, MAX_QUESTION, KnowledgeBaseOut
from citewise.api.views import answer_json, chosen_knowledge_bases, passage_json
from citewise.chat.events import AskEvent, AskFailed, AskResult
from citewise.chat.services import ask
from citewise.knowledge.models import DocumentStatus
from citewise.knowledge.permissions import KeyActor, readable_knowledge_bases
from citewise.knowledge.search import search
from citewise.ops.logs import request_id_var
from citewise.ops.middleware import REQUEST_ID_HEADER, observe, request_id_of

PATH = "/mcp"
CALLER = "citewise.mcp.caller"  # the ASGI scope's key for the Caller of this request
KNOWLEDGE_BASE_URI = "citewise://knowledge-bases/"

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key (as KeyActor), Django's view of the HTTP request (its
    host checked against ALLOWED_HOSTS: source URLs are built from it), the language
    for messages (Accept-Language, as on /api/)."""

    actor: KeyActor
    request: HttpRequest
    language: str


async def on_worker_thread(work: Callable[[], T]) -> T:
    """`work()` (ORM queries, the ask service) on a worker thread, not the one thread
    Django keeps for thread-sensitive code: an answer takes seconds, and every MCP call
    would queue behind it there. Each call is a whole unit (no transaction spans two),
    and it closes the database connections it opened on that thread, as Django does at
    the end of a request."""
    return await sync_to_async(_closing_connections, thread_sensitive=False)(work)


def _closing_connections(work: Callable[[], T]) -> T:
    try:
        return work()
    finally:
        connections.close_all()


# --- The door: the REST API's own checks --------------------------------------------


class KeyCheck(APIView):
    """The REST API's authentication, permission and throttle classes and its problem
    details, run on each HTTP request to /mcp: a missing, wrong, revoked or expired key
    is 401 and a key over its rate limit 429 (Retry-After), exactly as on /api/."""

    def admit(self, request, *args, **kwargs) -> Response:
        return Response(status=204)

    get = post = delete = options = admit


def admit(request: HttpRequest) -> Caller | HttpResponse:
    """The Caller of this request, or the response that refuses it."""
    try:
        request.get_host()
    except DisallowedHost as error:  # Django's own 400
        return response_for_exception(request, error)
    language = translation.get_language_from_request(request)
    with translation.override(language):
        check = KeyCheck()
        response = check.dispatch(request)
        if response.status_code >= 400:
            return response.render()
    return Caller(KeyActor(check.request.auth), request, language)


class KeyRequired:
    """ASGI middleware before the SDK's app: admits the request (leaving its Caller in
    the scope) or answers with the refusal, and writes the request's log line and
    metrics sample as Django's request log does. Other scopes (lifespan) pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = ASGIRequest(scope, BytesIO())
        began, statuses, user_id = time.perf_counter(), [], None
        request_id = request_id_of(request)
        token = request_id_var.set(request_id)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
                message["headers"] = [*message.get("headers", []),
                                      (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            admitted = await on_worker_thread(partial(admit, request))
            if isinstance(admitted, HttpResponse):
                await StarletteResponse(admitted.content, status_code=admitted.status_code,
                                        headers=dict(admitted.items()))(scope, receive, sending)
                return
            user_id = admitted.actor.owner.pk
            scope[CALLER] = admitted
            await self.app(scope, receive, sending)
        finally:
            observe(request, PATH, statuses[0] if statuses else 500,
                    time.perf_counter() - began, user_id=user_id)
            request_id_var.reset(token)


def caller_of(ctx: ServerRequestContext) -> Caller:
    return ctx.request.scope[CALLER]


# --- Tools ---------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                        max_length=MAX_QUESTION)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=100)]
KnowledgeBaseSlugs = Annotated[list[Slug] | None, Field(
    default=None, min_length=1, max_length=50,
    description="Slugs of the knowledge bases to use (the resources list them); leave out "
                "to use every knowledge base the key may read.")]


class SearchArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Text = Field(description="What to look for.")
    knowledge_bases: KnowledgeBaseSlugs = None
    k: int = Field(default=10, ge=1, le=MAX_K, description="How many passages.")


class AskArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Text = Field(description="The question, in English or Korean.")
    knowledge_bases: KnowledgeBaseSlugs = None


class Refused(Exception):
    """A tool error with a stable code (the REST API's codes) and a sentence."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def run_search(caller: Caller, arguments: SearchArguments) -> dict:
    """{passages: [the REST search's passage: chunk_id, knowledge_base, document,
    title, page, line, location, heading_path, text, score, scores, source_url]}"""
    kbs = chosen_knowledge_bases(caller.actor, arguments.knowledge_bases)
    passages = search(caller.actor, arguments.query, knowledge_bases=kbs, k=arguments.k)
    return {"passages": [passage_json(caller.request, passage) for passage in passages]}


def run_ask(caller: Caller, arguments: AskArguments) -> dict:
    """The REST ask's answer object: answer, citations (n, document, title, page, line,
    location, heading_path, snippet, supported, source_url, ...), grounded, not_found,
    closest_documents, usage, conversation_id, message_id."""
    kbs = chosen_knowledge_bases(caller.actor, arguments.knowledge_bases)
    try:
        result = _final(ask(caller.actor, arguments.question, knowledge_bases=kbs))
    except PermissionDenied:  # no knowledge base to read at all
        raise Http404(_("This key may not read any knowledge base.")) from None
    return answer_json(caller.request, result)


def _final(events: Iterator[AskEvent]) -> AskResult:
    for event in events:
        if isinstance(event, AskFailed):
            raise Refused(event.code, event.message)
        if isinstance(event, AskResult):
            return event
    raise Refused("answer_unavailable", _("The answer ended without a result."))


@dataclass(frozen=True)
class Tool:
    operation: str  # what the key must allow (citewise.accounts.Operation)
    arguments: type[BaseModel]
    run: Callable[[Caller, Any], dict]
    title: str
    description: str

    def listing(self, name: str) -> types.Tool:
        # Read-only: neither tool changes a document (ask records the exchange in the
        # key's own conversation history, as every door does).
        return types.Tool(
            name=name, title=self.title, description=self.description,
            input_schema=self.arguments.model_json_schema(),
            annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False))


TOOLS = {
    "search": Tool(
        Operation.SEARCH, SearchArguments, run_search, "Search the knowledge bases",
        "Find the passages of the company's documents that best match a query (retrieval "
        "only, no answer). Each passage has its text, score, document title, page, line, "
        "location (its place in words: \"page 3\", \"Prices, row 12\", \"line 40\"), heading "
        "path and a source_url a person can open."),
    "ask": Tool(
        Operation.ASK, AskArguments, run_ask, "Ask the knowledge bases",
        "Answer a question from the company's documents only. The answer marks claims "
        "with [n]; citations give each number's document, title, the page, line and "
        "location (\"page 3\", \"slide 2\", \"Prices, row 12\", \"line 40\") of the quoted "
        "sentence, the snippet, whether "
        "the passage supports the claim, and a source_url. When the documents do not "
        "answer, not_found is true and closest_documents lists the nearest documents; "
        "nothing is invented."),
}


async def list_tools(ctx: ServerRequestContext,
                     params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    key = caller_of(ctx).actor.key
    return types.ListToolsResult(tools=[tool.listing(name) for name, tool in TOOLS.items()
                                        if key.allows(tool.operation)])


async def call_tool(ctx: ServerRequestContext,
                    params: types.CallToolRequestParams) -> types.CallToolResult:
    caller = caller_of(ctx)
    tool = TOOLS.get(params.name)
    with translation.override(caller.language):
        if tool is None:
            raise MCPError(code=types.INVALID_PARAMS,
                           message=_("There is no tool named “%(name)s”.") % {"name": params.name})
        if not caller.actor.key.allows(tool.operation):
            return _tool_error("scope_missing", str(ScopeMissing(tool.operation).detail))
        try:
            arguments = tool.arguments.model_validate(params.arguments or {})
        except ValidationError as error:
            return _tool_error("validation_error", _invalid(error))
    try:
        data = await on_worker_thread(partial(_in_language, caller.language, tool.run, caller,
                                              arguments))
    except Refused as refused:
        return _tool_error(refused.code, refused.detail)
    return types.CallToolResult(content=[_json_text(data)], structured_content=data)


def _in_language(language: str, work: Callable[..., dict], *args) -> dict:
    with translation.override(language):
        try:
            return work(*args)
        except Http404 as missing:  # not there, or not readable by this key: the same
            raise Refused("not_found", str(missing)) from None


def _invalid(error: ValidationError) -> str:
    fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                       for e in error.errors())
    return f"{_('Some fields are missing or invalid.')} {fields}"


def _tool_error(code: str, detail: str) -> types.CallToolResult:
    """A tool error the agent reads (is_error), with the REST API's stable code."""
    return types.CallToolResult(content=[types.TextContent(text=detail)],
                                structured_content={"code": code, "detail": detail},
                                is_error=True)


def _json_text(data: dict) -> types.TextContent:
    # The structured result again as text, for clients that read only text (the spec
    # asks for both).
    return types.TextContent(text=json.dumps(data, ensure_ascii=False))


# --- Resources: the readable knowledge bases -----------------------------------------


def knowledge_base_uri(slug: str) -> str:
    return KNOWLEDGE_BASE_URI + quote(slug, safe="")  # slugs may be Korean


async def list_resources(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
                         ) -> types.ListResourcesResult:
    actor = caller_of(ctx).actor
    kbs = await on_worker_thread(
        lambda: list(readable_knowledge_bases(actor).order_by("name", "pk")))
    return types.ListResourcesResult(resources=[
        types.Resource(uri=knowledge_base_uri(kb.slug), name=kb.slug, title=kb.name,
                       description=kb.description or None, mime_type="application/json")
        for kb in kbs])


async def read_resource(ctx: ServerRequestContext, params: types.ReadResourceRequestParams
                        ) -> types.ReadResourceResult:
    caller = caller_of(ctx)
    try:
        data = await on_worker_thread(partial(_in_language, caller.language,
                                              knowledge_base_json, caller, params.uri))
    except Refused as refused:
        raise MCPError(code=types.INVALID_PARAMS, message=refused.detail,
                       data={"code": refused.code, "uri": params.uri}) from None
    return types.ReadResourceResult(contents=[types.TextResourceContents(
        uri=params.uri, mime_type="application/json", text=json.dumps(data, ensure_ascii=False))])


def knowledge_base_json(caller: Caller, uri: str) -> dict:
    """The REST API's knowledge base (slug, name, description, language, created_at,
    updated_at) and its number of indexed documents."""
    if not uri.startswith(KNOWLEDGE_BASE_URI):
        raise Http404(_("There is no such resource."))
    [kb] = chosen_knowledge_bases(caller.actor, [unquote(uri.removeprefix(KNOWLEDGE_BASE_URI))])
    documents = kb.documents.filter(status=DocumentStatus.INDEXED).count()
    return {**KnowledgeBaseOut(kb).data, "indexed_documents": documents}


# --- The ASGI app ----------------------------------------------------------------------


def _input_schema(name: str) -> dict | None:
    tool = TOOLS.get(name)
    return None if tool is None else tool.arguments.model_json_schema()


def mcp_application() -> ASGIApp:
    """The SDK's Starlette app for /mcp behind KeyRequired. Its lifespan runs the SDK's
    session manager: citewise.asgi hands it the server's lifespan events."""
    server = Server(
        "citewise", version=version("citewise"), title="Citewise",
        instructions="Answers and passages from the company's own documents, with "
                     "citations. Use `ask` for an answer, `search` for passages; the "
                     "resources list the knowledge bases this key may read.",
        on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
        on_read_resource=read_resource, get_tool_input_schema=_input_schema)
    app = server.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True,
        # The SDK's DNS-rebinding guard would allow only localhost Host headers. Django's
        # ALLOWED_HOSTS check (admit) replaces it, and every request needs an API key,
        # which a rebinding page does not have.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    return KeyRequired(app)
