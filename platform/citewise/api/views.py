"""/api/v1/: parse the request, call the citewise services (ask, search, permissions),
shape the response. Anything in a knowledge base the key may not read is 404, never 403:
a key must not learn that such a knowledge base exists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.http import Http404, StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citewise.accounts.models import Operation
from citewise.api import serializers as shapes
from citewise.api.authentication import KeyMayDo, actor_of
from citewise.api.problems import PROBLEM_CONTENT_TYPE, AnswerUnavailable
from citewise.chat.conversations import conversation_of
from citewise.chat.events import AskEvent, AskFailed, AskResult, EventType
from citewise.chat.services import ask, source_url
from citewise.chat.streaming import HEARTBEAT, EventPump, sse
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import Actor, readable_knowledge_bases
from citewise.knowledge.search import Passage, search


def problem_responses(*codes: tuple[int, str]) -> dict:
    """Schema entries of problem details (application/problem+json): {(status, media
    type): response}, as drf-spectacular's extend_schema takes them."""
    return {(status, PROBLEM_CONTENT_TYPE): OpenApiResponse(shapes.ProblemOut, description=text)
            for status, text in codes}


PROBLEMS = problem_responses(
    (400, "validation_error"), (401, "not_authenticated, key_invalid, key_revoked, key_expired"),
    (403, "scope_missing"), (404, "not_found"), (429, "rate_limited (see Retry-After)"))


class KeyView(APIView):
    permission_classes = [IsAuthenticated, KeyMayDo]
    operation: str | None = None  # what the key must allow (citewise.accounts.Operation)


def chosen_knowledge_bases(actor: Actor, slugs: list[str] | None) -> list[KnowledgeBase] | None:
    """The readable knowledge bases named (None: all readable ones). One that does not
    exist and one the key may not read are the same 404."""
    if slugs is None:
        return None
    found = {kb.slug: kb for kb in readable_knowledge_bases(actor).filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise Http404(_("No knowledge base: %(slugs)s") % {"slugs": ", ".join(missing)})
    return [found[slug] for slug in dict.fromkeys(slugs)]


def _absolute(request, url: str) -> str:
    return request.build_absolute_uri(url)


def citation_json(request, citation) -> dict:
    data = citation.as_json()
    data["source_url"] = _absolute(request, data.pop("url"))
    return data


def passage_json(request, passage: Passage) -> dict:
    return {**passage.as_json(),
            "source_url": _absolute(request, source_url(passage.chunk_id, passage.page, None))}


def answer_json(request, result: AskResult) -> dict:
    data = result.as_json()
    for key in ("question", "stopped", "invalid_citations"):
        data.pop(key)
    data["citations"] = [citation_json(request, c) for c in result.citations]
    data["closest_documents"] = [
        {"document": d["document"], "title": d["title"],
         "knowledge_base": d.get("knowledge_base", ""),
         "source_url": _absolute(request, d["url"])} for d in result.closest_documents]
    return data


class AskView(KeyView):
    operation = Operation.ASK

    @extend_schema(request=shapes.AskRequest, responses={
        (200, "application/json"): shapes.AskResponse,
        (200, "text/event-stream"): OpenApiResponse(
            OpenApiTypes.STR, description="With `stream: true`: the events below."),
        **problem_responses((503, "llm_* codes")), **PROBLEMS},
        description="Answer a question from the knowledge bases, with verified citations. "
                    "With `stream: true` the answer comes as Server-Sent Events: `delta` "
                    "({text}), `notice`, `citation`, `not_found`, then `done` (the same "
                    "object as the JSON answer) or `error` ({code, detail}).")
    def post(self, request):
        form = shapes.AskRequest(data=request.data)
        form.is_valid(raise_exception=True)
        actor = actor_of(request)
        kbs = chosen_knowledge_bases(actor, form.validated_data.get("knowledge_bases"))
        conversation = None
        if "conversation_id" in form.validated_data:
            conversation = conversation_of(actor, form.validated_data["conversation_id"])
            if conversation is None:
                raise Http404(_("No such conversation."))
        if kbs is None and not readable_knowledge_bases(actor).exists():
            raise Http404(_("This key may not read any knowledge base."))
        events = ask(actor, form.validated_data["question"], knowledge_bases=kbs,
                     conversation=conversation)
        if form.validated_data["stream"]:
            return _event_stream(request, events)
        return Response(answer_json(request, _final(events)))


def _final(events: Iterator[AskEvent]) -> AskResult:
    for event in events:
        if isinstance(event, AskFailed):
            raise AnswerUnavailable(event.message, code=event.code)
        if isinstance(event, AskResult):
            return event
    raise AnswerUnavailable(_("The answer ended without a result."))


def _event_stream(request, events: Iterator[AskEvent]) -> StreamingHttpResponse:
    language = translation.get_language()
    response = StreamingHttpResponse(_sse(request, events, language),
                                     content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def _sse(request, events: Iterator[AskEvent], language: str) -> AsyncIterator[bytes]:
    """The ask service's events as SSE; the pump runs the sync generator on its thread
    (leaving early, when the client goes, stops the answer there)."""
    pump = EventPump(events)
    try:
        async for event in pump.events():
            if event is None:
                yield HEARTBEAT
            else:
                yield _sse_message(request, event, language)
    except Exception:  # the stream has started: the error can only be an event now
        with translation.override(language):
            yield sse("error", {"code": "server_error",
                                "detail": _("Something went wrong on our side.")})
    finally:
        pump.stop()


def _sse_message(request, event: AskEvent, language: str) -> bytes:
    if event.type == EventType.TEXT:
        return sse("delta", event.as_json())
    if event.type == EventType.CITATION:
        return sse("citation", citation_json(request, event.citation))
    if event.type == EventType.DONE:
        return sse("done", answer_json(request, event))
    if event.type == EventType.ERROR:
        return sse("error", {"code": event.code, "detail": event.message})
    data = event.as_json()
    if event.type == EventType.NOT_FOUND:
        data["closest_documents"] = [
            {**{k: v for k, v in d.items() if k != "url"},
             "source_url": _absolute(request, d["url"])} for d in data["closest_documents"]]
    return sse(event.type, data)


class SearchView(KeyView):
    operation = Operation.SEARCH

    @extend_schema(request=shapes.SearchRequest,
                   responses={200: shapes.SearchResponse, **PROBLEMS},
                   description="Retrieval only: the passages best matching the query, with "
                               "their scores.")
    def post(self, request):
        form = shapes.SearchRequest(data=request.data)
        form.is_valid(raise_exception=True)
        actor = actor_of(request)
        kbs = chosen_knowledge_bases(actor, form.validated_data.get("knowledge_bases"))
        passages = search(actor, form.validated_data["query"], knowledge_bases=kbs,
                          k=form.validated_data["k"])
        return Response({"passages": [passage_json(request, p) for p in passages]})


class Pages(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class KnowledgeBaseList(KeyView, generics.ListAPIView):
    serializer_class = shapes.KnowledgeBaseOut
    pagination_class = Pages

    @extend_schema(responses={200: shapes.KnowledgeBaseOut(many=True), **PROBLEMS},
                   description="The knowledge bases this key may read.")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return readable_knowledge_bases(actor_of(self.request)).order_by("name", "pk")


class KnowledgeBaseDetail(KeyView, generics.RetrieveAPIView):
    serializer_class = shapes.KnowledgeBaseOut
    lookup_field = "slug"

    @extend_schema(responses={200: shapes.KnowledgeBaseOut, **PROBLEMS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return readable_knowledge_bases(actor_of(self.request))
