"""/api/v1/: parse the request, call the citewise services (ask, search, permissions),
shape the response. Anything in a knowledge base the key may not read is 404, never 403:
a key must not learn that such a knowledge base exists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.db.models import prefetch_related_objects
from django.http import Http404, StreamingHttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citewise.accounts.models import Operation
from citewise.api import idempotency
from citewise.api import serializers as shapes
from citewise.api.authentication import KeyMayDo, actor_of
from citewise.api.problems import PROBLEM_CONTENT_TYPE, AnswerUnavailable, ReadOnlyKnowledgeBase
from citewise.api.schema import sse_response
from citewise.chat.conversations import (
    conversation_of,
    conversations_of,
    feedback_by_message,
    give_feedback,
)
from citewise.chat.events import AskEvent, AskFailed, AskResult, EventType
from citewise.chat.services import ask, source_url
from citewise.chat.streaming import HEARTBEAT, EventPump, sse
from citewise.knowledge.models import Document, KnowledgeBase
from citewise.knowledge.permissions import (
    Actor,
    can_edit,
    readable_documents,
    readable_knowledge_bases,
    readable_slugs,
)
from citewise.knowledge.places import citation_place
from citewise.knowledge.search import Passage, search
from citewise.knowledge.services import add_document, delete_document


def problem_responses(*codes: tuple[int, str]) -> dict:
    """Schema entries of problem details (application/problem+json): {(status, media
    type): response}, as drf-spectacular's extend_schema takes them."""
    return {(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(shapes.ProblemOut, description=text)
            for code, text in codes}


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
    """A cited source as the API shows it: its place in words (`location`, in the active
    language) instead of the document type it is made from."""
    data = citation.as_json()
    data["source_url"] = _absolute(request, data.pop("url"))
    data["location"] = citation_place(data)
    data.pop("document_type")
    return data


def passage_json(request, passage: Passage) -> dict:
    data = passage.as_json()
    data["location"] = citation_place(data)
    data.pop("document_type")
    return {**data,
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
        (200, "text/event-stream"): sse_response(
            "With `stream: true`: the events below.",
            ["delta", "notice", "citation", "not_found", "done", "error"]),
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
    """The stored answer; AnswerUnavailable when the answer failed, raised once the
    service has stored the failed exchange (the events are read to their end)."""
    failed: AskFailed | None = None
    for event in events:
        if isinstance(event, AskFailed):
            failed = event
        elif isinstance(event, AskResult):
            return event
    if failed is not None:
        raise AnswerUnavailable(failed.message, code=failed.code)
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
    with translation.override(language):  # a citation's location, in words
        return _sse_event(request, event)


def _sse_event(request, event: AskEvent) -> bytes:
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


# --- Documents -------------------------------------------------------------------------

def editable_knowledge_base(actor: Actor, slug: str) -> KnowledgeBase:
    """The knowledge base to change: 404 unless the key may read it, 403
    knowledge_base_read_only unless its owner may also edit it."""
    kb = chosen_knowledge_bases(actor, [slug])[0]
    if not can_edit(actor, kb):
        raise ReadOnlyKnowledgeBase(kb.name)
    return kb


UPLOAD_RESPONSES = {
    201: shapes.DocumentUploadOut,
    200: OpenApiResponse(shapes.DocumentUploadOut, description="The same content is already "
                         "in the knowledge base: that document, with duplicate true."),
    **PROBLEMS,
    **problem_responses((403, "scope_missing, knowledge_base_read_only"), (413, "too_large"),
                        (422, "unsupported_type, encrypted, idempotency_key_reused")),
}


@extend_schema_view(
    get=extend_schema(parameters=[shapes.DocumentFilter],
                      responses={200: shapes.DocumentOut(many=True), **PROBLEMS},
                      description="Documents of the knowledge bases this key may read, the "
                                  "newest first, with their ingestion status."),
    post=extend_schema(
        request={"multipart/form-data": shapes.DocumentUpload}, responses=UPLOAD_RESPONSES,
        parameters=[OpenApiParameter(
            idempotency.HEADER, str, OpenApiParameter.HEADER,
            description="Send the same key again (a retry) and get the first response back "
                        "instead of a second document.")],
        description="Upload a document; it is ingested in the background (poll its status). "
                    "A file named like one already there becomes its next version."))
class DocumentList(KeyView, generics.ListAPIView):
    operation = Operation.DOCUMENTS
    serializer_class = shapes.DocumentOut
    pagination_class = Pages
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        form = shapes.DocumentFilter(data=self.request.query_params)
        form.is_valid(raise_exception=True)
        actor = actor_of(self.request)
        documents = readable_documents(actor).order_by("-created_at", "-pk")
        if "knowledge_base" in form.validated_data:
            kb = chosen_knowledge_bases(actor, [form.validated_data["knowledge_base"]])[0]
            documents = documents.filter(knowledge_base=kb)
        if "status" in form.validated_data:
            documents = documents.filter(status=form.validated_data["status"])
        return documents

    def post(self, request):
        form = shapes.DocumentUpload(data=request.data)
        form.is_valid(raise_exception=True)
        actor = actor_of(request)
        kb = editable_knowledge_base(actor, form.validated_data["knowledge_base"])
        upload, title = form.validated_data["file"], form.validated_data.get("title")

        def add() -> tuple[int, dict]:
            result = add_document(actor, kb, upload, original_name=upload.name, title=title)
            shown = shapes.DocumentUploadOut(result.document,
                                             context={"duplicate": result.duplicate})
            return (status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED,
                    dict(shown.data))

        outcome = idempotency.once(
            request.auth, idempotency.key_of(request),
            {"knowledge_base": kb.slug, "title": title or "", "name": upload.name}, upload, add)
        response = Response(outcome.body, status=outcome.status)
        response["Location"] = request.build_absolute_uri(
            reverse("api:document", args=[outcome.body["id"]]))
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


@extend_schema_view(
    get=extend_schema(responses={200: shapes.DocumentOut, **PROBLEMS},
                      description="One document and its ingestion status."),
    delete=extend_schema(responses={
        204: None, **PROBLEMS,
        **problem_responses((403, "scope_missing, knowledge_base_read_only"))},
        description="Delete the document, its passages and its place in the indexes."))
class DocumentDetail(KeyView, generics.RetrieveDestroyAPIView):
    operation = Operation.DOCUMENTS
    serializer_class = shapes.DocumentOut

    def get_queryset(self):
        return readable_documents(actor_of(self.request))

    def perform_destroy(self, document: Document) -> None:
        actor = actor_of(self.request)
        if not can_edit(actor, document.knowledge_base):
            raise ReadOnlyKnowledgeBase(document.knowledge_base.name)
        delete_document(actor, document)


# --- Conversations and feedback -----------------------------------------------------------

@extend_schema_view(get=extend_schema(
    responses={200: shapes.ConversationOut(many=True), **PROBLEMS},
    description="This key's conversations (started by ask), the most recently used first."))
class ConversationList(KeyView, generics.ListAPIView):
    serializer_class = shapes.ConversationOut
    pagination_class = Pages

    def get_queryset(self):
        return conversations_of(actor_of(self.request)).prefetch_related("knowledge_bases")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(),
                "readable": readable_slugs(actor_of(self.request))}


class ConversationDetail(KeyView):
    @extend_schema(responses={200: shapes.ConversationDetailOut, **PROBLEMS},
                   description="One of this key's conversations with its questions and "
                               "answers (citations of knowledge bases the key still reads).")
    def get(self, request, pk: int):
        actor = actor_of(request)
        conversation = conversation_of(actor, pk)
        if conversation is None:
            raise Http404(_("No such conversation."))
        prefetch_related_objects([conversation], "knowledge_bases", "messages__citations")
        context = {"request": request, "actor": actor, "readable": readable_slugs(actor),
                   "feedback": feedback_by_message(actor, conversation.messages.all())}
        return Response(shapes.ConversationDetailOut(conversation, context=context).data)


class FeedbackView(KeyView):
    @extend_schema(request=shapes.FeedbackIn, responses={200: shapes.FeedbackOut, **PROBLEMS},
                   description="Rate one of this key's answers (up or down, with an optional "
                               "comment); rating it again replaces the earlier rating.")
    def post(self, request, pk: int):
        form = shapes.FeedbackIn(data=request.data)
        form.is_valid(raise_exception=True)
        given = give_feedback(actor_of(request), pk, form.validated_data["rating"],
                              form.validated_data["comment"])
        if given is None:
            raise Http404(_("No such answer."))
        return Response(shapes.FeedbackOut(given).data)
