"""The doors of the isolation property, each asked in process (Django's test client) as
the scenario's actor: signed in to the web (chat, sources, originals, console, reports,
audit log, Django's admin) and with their API key (REST and OpenAI-compatible).

An example asks every listing door (what the chat offers, the console lists, the API
lists and the OpenAI endpoint calls models), one group of doors about one knowledge base
(PLACE_DOORS) and the answering door that goes with the group (a whole answer, streamed or
not, or a search: ANSWERED_WITH). So each example stays cheap, and a few hundred cover
every door with every kind of actor.

Every response passes through a Probe, which fails the example when the body of a text
response names a knowledge base the actor may not read (its canary, see
isolation_world), and compares a refusal about something that exists but may not be
read with the refusal about something that does not exist: they must be the same, or
the status code alone tells the actor what exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from citewise.chat.models import Conversation
from citewise.knowledge.models import Document
from tests.integration.isolation_world import (
    CANARIES,
    QUESTION,
    SLUGS,
    Corpus,
    Place,
    Realised,
    Scenario,
)

BINARY_TYPES = ("image/", "application/pdf", "application/octet-stream")


@dataclass
class Reply:
    status: int
    body: str
    content_type: str

    def json(self) -> dict:
        return json.loads(self.body)


def canaries_in(text: str, *, excused: str = "") -> set[str]:
    """The knowledge bases (by canary) whose name, text or slug `text` shows; a slug that
    is also in `excused` (the request that got `text`) does not count."""
    lowered, excused = text.lower(), excused.lower()
    return {canary for canary in CANARIES if canary in lowered
            or (SLUGS[canary] in lowered and SLUGS[canary] not in excused)}


@dataclass
class Probe:
    """Asks one door after another as one actor; `forbidden`: the canaries the actor may
    not see through this family of doors."""

    client: Client
    forbidden: set[str]
    headers: dict[str, str] = field(default_factory=dict)

    def ask(self, method: str, path: str, **kwargs) -> Reply:
        response = getattr(self.client, method)(path, headers=self.headers, **kwargs)
        reply = Reply(response.status_code, _text_of(response),
                      response.get("Content-Type", ""))
        asked = f"{path} {kwargs.get('data', '')}"
        leaked = canaries_in(reply.body, excused=asked) & self.forbidden
        assert not leaked, f"{method.upper()} {path} ({reply.status}) shows {leaked}"
        return reply

    def get(self, path: str, **kwargs) -> Reply:
        return self.ask("get", path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> Reply:
        return self.ask("post", path, data=data or {}, **kwargs)

    def post_json(self, path: str, body: dict) -> Reply:
        return self.ask("post", path, data=json.dumps(body), content_type="application/json")

    def same_as_missing(self, method: str, hidden: str, missing: str, **kwargs) -> Reply:
        """The refusal for `hidden` (exists, not readable) equals the one for `missing`
        (does not exist): same status, and the same JSON apart from the address."""
        refused = self.ask(method, hidden, **kwargs)
        nothing = self.ask(method, missing, **kwargs)
        assert refused.status == nothing.status, (hidden, refused.status, missing,
                                                  nothing.status, refused.body[:300])
        assert refused.status != 200, (hidden, refused.body[:300])
        if refused.content_type.startswith(("application/json", "application/problem+json")):
            assert _without_ids(refused.body) == _without_ids(nothing.body), (
                refused.body, nothing.body)
        return refused


def _text_of(response) -> str:
    if response.get("Content-Type", "").startswith(BINARY_TYPES):
        return ""
    if getattr(response, "streaming", False):
        return async_to_sync(_drained)(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


async def _drained(stream) -> bytes:
    """The whole body of an async stream (the chat's and the API's SSE answers)."""
    return b"".join([piece async for piece in stream])


_IDS = re.compile("|".join([*SLUGS.values(), "no-such-knowledge-base", r"\d+"]))


def _without_ids(body: str) -> str:
    """A refusal may name what was asked for (its id or slug): that is the caller's own
    input, not a leak."""
    return _IDS.sub("<id>", body)


# --- One actor at the doors --------------------------------------------------------------

@dataclass
class Visit:
    """The scenario's actor signed in to the web (`web`) and holding their key (`api`),
    and what each may show: `readable` and `editable` (by the person), `shown` (by the
    key), as canaries."""

    corpus: Corpus
    scenario: Scenario
    web: Probe
    api: Probe
    readable: set[str]
    editable: set[str]
    shown: set[str]

    @property
    def missing(self) -> int:
        return self.corpus.missing_id

    @property
    def nowhere(self) -> str:
        return self.corpus.missing_slug

    @property
    def key_ops(self) -> set[str]:
        return set(self.scenario.key.operations) if self.scenario.key_works() else set()


def visit(corpus: Corpus, scenario: Scenario, realised: Realised) -> Visit:
    web = Client()
    web.force_login(realised.actor)
    places = list(enumerate(corpus.places))
    readable = {p.canary for i, p in places if scenario.person_reads(i)}
    shown = {p.canary for i, p in places if scenario.key_reads(i)}
    return Visit(corpus, scenario, Probe(web, set(CANARIES) - readable),
                 Probe(Client(), set(CANARIES) - shown,
                       headers={"Authorization": f"Bearer {realised.key}"}),
                 readable, {p.canary for i, p in places if scenario.person_edits(i)}, shown)


def listing_doors(v: Visit) -> None:
    """Each lists exactly what the actor (or their key) may read, or edit in the console."""
    scenario = v.scenario
    chat = v.web.get("/chat/")
    if scenario.active:
        assert chat.status == 200
        assert canaries_in(chat.body) == v.readable, "the picker offers what they read"
    console = v.web.get("/console/")
    expected = 200 if scenario.may_use_console() else 403 if scenario.active else 302
    assert console.status == expected, (console.status, expected)
    if expected == 200:
        assert canaries_in(console.body) == v.editable
    listed, models = v.api.get("/api/v1/knowledge-bases"), v.api.get("/v1/models")
    if not scenario.key_works():
        assert (listed.status, models.status) == (401, 401)
    else:
        assert canaries_in(listed.body) == v.shown == canaries_in(models.body)


# --- Answering doors: one per example ----------------------------------------------------

def answer_in_chat(v: Visit) -> None:
    """The chat's SSE answer to a question about every readable knowledge base."""
    asked = v.web.post("/chat/messages/", {"question": QUESTION})
    if v.scenario.active and v.readable:
        assert asked.status == 200 and "event: done" in asked.body, asked.body[-500:]
        assert canaries_in(asked.body), "an answer from what they read"


def answer_by_api(v: Visit, *, stream: bool) -> None:
    asked = v.api.post_json("/api/v1/ask", {"question": QUESTION, "stream": stream})
    if "ask" in v.key_ops and v.shown:
        assert asked.status == 200, asked.body
        assert canaries_in(asked.body), f"nothing of {v.shown}"


def search_by_api(v: Visit) -> None:
    searched = v.api.post_json("/api/v1/search", {"query": QUESTION})
    if "search" in v.key_ops:
        assert canaries_in(searched.body) == v.shown


def answer_by_openai(v: Visit) -> None:
    """The OpenAI-compatible answer from every knowledge base the key reads (a model
    named with "+")."""
    model = "+".join(SLUGS[canary] for canary in sorted(v.shown)) or SLUGS[CANARIES[0]]
    asked = v.api.post_json("/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": QUESTION}]})
    if "ask" in v.key_ops and v.shown:
        assert asked.status == 200, asked.body
        assert canaries_in(asked.body), f"nothing of {v.shown}"


ANSWER_DOORS: dict[str, Callable[[Visit], None]] = {
    "chat": answer_in_chat, "ask": lambda v: answer_by_api(v, stream=False),
    "ask-stream": lambda v: answer_by_api(v, stream=True), "search": search_by_api,
    "openai": answer_by_openai}


# --- Doors about one knowledge base: one group per example -------------------------------

def chat_doors(v: Visit, i: int, place: Place) -> None:
    """Another person's conversation, answer and feedback; asking a knowledge base."""
    conversation, answer, missing = place.conversation.pk, place.answer.pk, v.missing
    v.web.same_as_missing("get", f"/chat/c/{conversation}/", f"/chat/c/{missing}/")
    v.web.same_as_missing("post", f"/chat/messages/{answer}/feedback",
                          f"/chat/messages/{missing}/feedback", data={"rating": "up"})
    for action in ("rename", "delete"):
        v.web.same_as_missing("post", f"/chat/c/{conversation}/{action}",
                              f"/chat/c/{missing}/{action}", data={"title": "Mine"})
    assert Conversation.objects.filter(pk=conversation, title__startswith="About").exists()
    if not v.scenario.person_reads(i):
        hidden = v.web.post("/chat/messages/", {"question": QUESTION,
                                                "knowledge_base": place.kb.pk})
        nothing = v.web.post("/chat/messages/", {"question": QUESTION,
                                                 "knowledge_base": missing})
        assert (hidden.status, hidden.body) == (nothing.status, nothing.body)
        assert hidden.status in (401, 403)


def source_doors(v: Visit, i: int, place: Place) -> None:
    """The passage a citation opens, its PDF page image, the original file."""
    chunk, document, missing = place.chunk.pk, place.document.pk, v.missing
    for path, twin in ((f"/sources/{chunk}/", f"/sources/{missing}/"),
                       (f"/sources/{chunk}/?page=2", f"/sources/{missing}/?page=2"),
                       (f"/sources/{chunk}/pages/1.png", f"/sources/{missing}/pages/1.png"),
                       (f"/documents/{document}/original", f"/documents/{missing}/original")):
        if v.scenario.person_reads(i):
            assert v.web.get(path).status == 200, path
        else:
            v.web.same_as_missing("get", path, twin)


OPEN = (200, 286)  # 286: htmx's "stop polling" (a knowledge base's status block)
KB_PAGES = ("", "status/", "edit/", "access/", "documents/", "documents/rows",
            "documents/{document}/", "documents/{document}/pages/1.png")
KB_ACTIONS = ("reindex/", "try/", "delete/", "documents/upload", "documents/delete",
              "documents/{document}/retry")


def _console_paths(slug: str, document: int, templates: Iterable[str]) -> list[str]:
    return [f"/console/knowledge-bases/{slug}/" + t.format(document=document)
            for t in templates]


def console_doors(v: Visit, i: int, place: Place) -> None:
    """The console's pages of a knowledge base, and its actions when not an editor (an
    editor's actions change things: their own tests cover them)."""
    edits = v.scenario.person_edits(i)
    admin = v.scenario.active and v.scenario.role == "admin"
    pages = zip(_console_paths(place.kb.slug, place.document.pk, KB_PAGES),
                _console_paths(v.nowhere, v.missing, KB_PAGES), strict=True)
    for path, twin in pages:
        if edits:  # the access page is for admins only: an editor is told so
            assert v.web.get(path).status in (OPEN if admin or "/access/" not in path
                                              else (403,)), path
        else:
            v.web.same_as_missing("get", path, twin)
    if edits:
        return
    actions = zip(_console_paths(place.kb.slug, place.document.pk, KB_ACTIONS),
                  _console_paths(v.nowhere, v.missing, KB_ACTIONS), strict=True)
    for path, twin in actions:
        v.web.same_as_missing("post", path, twin, data={
            "question": QUESTION, "document": [place.document.pk],
            "file": SimpleUploadedFile("x.md", b"# x\n\nx")})
    assert Document.objects.filter(pk=place.document.pk).exists()
    assert place.kb.documents.count() == 1


REPORTS = ("questions", "answers", "feedback", "gaps", "documents", "usage")
CSV_LINK = re.compile(r'href="(/console/reports/[a-z]+/csv/\?[^"]+)"')


def report_doors(v: Visit, i: int, place: Place) -> None:
    """Two of the reports (which two follows the knowledge base), their CSV tables, and
    one filtered to this knowledge base."""
    for report in REPORTS[2 * i:2 * i + 2]:
        page = v.web.get(f"/console/reports/{report}/?days=90")
        if not v.scenario.may_use_console():
            continue
        assert page.status == 200, report
        assert canaries_in(page.body) <= v.editable, report
        for link in set(CSV_LINK.findall(page.body)):
            table = v.web.get(link.replace("&amp;", "&"))
            assert table.status == 200, link
            assert canaries_in(table.body) <= v.editable, link
    filtered = f"/console/reports/questions/?kb={place.kb.slug}"
    if v.scenario.person_edits(i):
        assert v.web.get(filtered).status == 200
    else:
        v.web.same_as_missing("get", filtered,
                              f"/console/reports/questions/?kb={v.nowhere}")


ADMIN_PAGES = ("/admin/", "/admin/knowledge/knowledgebase/", "/admin/knowledge/document/",
               "/admin/knowledge/webhookdelivery/", "/admin/chat/unansweredquestion/",
               "/admin/chat/answer/", "/admin/accounts/apikey/", "/admin/accounts/apikey/add/",
               "/admin/knowledge/document/add/", "/admin/audit/auditevent/")


def admin_doors(v: Visit, i: int, place: Place) -> None:
    """Django's admin (for staff), the audit log (admins only), /metrics (operators)."""
    for path in ADMIN_PAGES:
        v.web.get(path)
    if not v.scenario.person_edits(i):
        for model, pk in (("knowledgebase", place.kb.pk), ("document", place.document.pk)):
            v.web.same_as_missing("get", f"/admin/knowledge/{model}/{pk}/change/",
                                  f"/admin/knowledge/{model}/{v.missing}/change/")
    scenario = v.scenario
    for path in ("/console/audit/", "/console/audit/export.csv"):
        status = v.web.get(path).status
        assert status == (200 if scenario.active and scenario.role == "admin"
                          else 403 if scenario.active else 302), (path, status)
    # Operators' metrics name no knowledge base, whoever reads them.
    Probe(Client(), set(CANARIES)).get("/metrics")


def rest_doors(v: Visit, i: int, place: Place) -> None:
    """/api/v1/: the knowledge base, its documents (read, delete, upload), another key's
    conversation and answer."""
    api, missing, nowhere = v.api, v.missing, v.nowhere
    documents = api.get("/api/v1/documents")
    if "documents" in v.key_ops:
        assert canaries_in(documents.body) == v.shown
    api.get("/api/v1/conversations")
    api.same_as_missing("get", f"/api/v1/conversations/{place.api_conversation.pk}",
                        f"/api/v1/conversations/{missing}")
    api.same_as_missing("post", f"/api/v1/messages/{place.api_answer.pk}/feedback",
                        f"/api/v1/messages/{missing}/feedback",
                        data=json.dumps({"rating": "up"}), content_type="application/json")
    if v.scenario.key_reads(i):
        return
    slug, document = place.kb.slug, place.document.pk
    api.same_as_missing("get", f"/api/v1/knowledge-bases/{slug}",
                        f"/api/v1/knowledge-bases/{nowhere}")
    for path, body in (("/api/v1/search", {"query": QUESTION}),
                       ("/api/v1/ask", {"question": QUESTION})):
        _same_refusal(api, path, {**body, "knowledge_bases": [slug]},
                      {**body, "knowledge_bases": [nowhere]})
    for method in ("get", "delete"):
        api.same_as_missing(method, f"/api/v1/documents/{document}",
                            f"/api/v1/documents/{missing}")
    api.same_as_missing("get", f"/api/v1/documents?knowledge_base={slug}",
                        f"/api/v1/documents?knowledge_base={nowhere}")
    uploaded = [api.ask("post", "/api/v1/documents", data={
        "file": SimpleUploadedFile("x.md", b"# x\n\nx"), "knowledge_base": target})
        for target in (slug, nowhere)]
    assert uploaded[0].status == uploaded[1].status != 201
    assert place.kb.documents.count() == 1


def openai_doors(v: Visit, i: int, place: Place) -> None:
    """/v1/: the model, and answers from it alone or with another."""
    if v.scenario.key_reads(i):
        return
    slug, nowhere = place.kb.slug, v.nowhere
    v.api.same_as_missing("get", f"/v1/models/{slug}", f"/v1/models/{nowhere}")
    others = [SLUGS[canary] for canary in sorted(v.shown)]
    for hidden, missing in (([slug], [nowhere]), ([*others, slug], [*others, nowhere])):
        _same_refusal(v.api, "/v1/chat/completions",
                      {"model": "+".join(hidden),
                       "messages": [{"role": "user", "content": QUESTION}]},
                      {"model": "+".join(missing),
                       "messages": [{"role": "user", "content": QUESTION}]})


def _same_refusal(probe: Probe, path: str, hidden: dict, missing: dict) -> None:
    refused, nothing = probe.post_json(path, hidden), probe.post_json(path, missing)
    assert refused.status == nothing.status != 200, (refused.status, refused.body[:300])
    assert _without_ids(refused.body) == _without_ids(nothing.body)


PLACE_DOORS: dict[str, Callable[[Visit, int, Place], None]] = {
    "chat": chat_doors, "sources": source_doors, "console": console_doors,
    "reports": report_doors, "admin": admin_doors, "rest": rest_doors,
    "openai": openai_doors}
# The answering door asked with each group: every answering door with at least one group.
ANSWERED_WITH = {"chat": "chat", "sources": "ask-stream", "console": "chat",
                 "reports": "search", "admin": "ask", "rest": "ask", "openai": "openai"}
