"""/v1/: the OpenAI-compatible endpoints. A tool that speaks to OpenAI asks a knowledge
base by changing its base URL: the "model" is a knowledge base's slug (or several joined
with "+"), the API key a Citewise key. Same ask service, keys, scopes, rate limits and
permissions as /api/v1/; errors in OpenAI's shape (citewise.api.openai_errors).

Each chat completion is stored as a conversation of its own (the question and the
answer, titled by the question) in the key's conversations: the client keeps the
history and sends it with every request, so nothing links one call to the next."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import translation
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citewise.accounts.models import Operation
from citewise.api import openai_shapes as shapes
from citewise.api.authentication import KeyMayDo, actor_of
from citewise.api.openai_errors import ModelNotFound, openai_error_handler
from citewise.api.openai_render import Envelope, chunks, completion
from citewise.api.schema import sse_response
from citewise.chat.services import ask
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import Actor, readable_knowledge_bases
from inference.languages import detect_language

TAGS = ["OpenAI-compatible"]
ERRORS = {code: OpenApiResponse(shapes.ErrorOut, description=text) for code, text in (
    (401, "invalid_api_key: no key, or a wrong, revoked or expired one"),
    (404, "model_not_found"), (429, "rate_limit_exceeded (see Retry-After)"))}


class OpenAIView(APIView):
    permission_classes = [IsAuthenticated, KeyMayDo]
    operation: str | None = None

    def get_exception_handler(self):
        return openai_error_handler


def model_json(kb: KnowledgeBase) -> dict:
    return {"id": kb.slug, "object": "model", "created": int(kb.created_at.timestamp()),
            "owned_by": "citewise", "name": kb.name}


def knowledge_bases_of(actor: Actor, model: str) -> list[KnowledgeBase]:
    """The readable knowledge bases a model names ("a" or "a+b"); raises ModelNotFound
    when any is unknown or unreadable (the same answer for both)."""
    slugs = model.split("+")
    found = {kb.slug: kb for kb in readable_knowledge_bases(actor).filter(slug__in=slugs)}
    if not all(slug in found for slug in slugs):
        raise ModelNotFound(model)
    return [found[slug] for slug in dict.fromkeys(slugs)]


class ModelList(OpenAIView):
    @extend_schema(tags=TAGS, operation_id="v1_models_list",
                   responses={200: shapes.ModelListOut, **ERRORS},
                   description="The knowledge bases this key may read, as models.")
    def get(self, request):
        kbs = readable_knowledge_bases(actor_of(request)).order_by("slug")
        return Response({"object": "list", "data": [model_json(kb) for kb in kbs]})


class ModelDetail(OpenAIView):
    @extend_schema(tags=TAGS, responses={200: shapes.ModelOut, **ERRORS})
    def get(self, request, model: str):
        kb = readable_knowledge_bases(actor_of(request)).filter(slug=model).first()
        if kb is None:
            raise ModelNotFound(model)
        return Response(model_json(kb))


class ChatCompletions(OpenAIView):
    operation = Operation.ASK

    @extend_schema(
        tags=TAGS, request=shapes.ChatCompletionRequest, responses={
            (200, "application/json"): shapes.ChatCompletionOut,
            (200, "text/event-stream"): sse_response(
                "With `stream: true`: `chat.completion.chunk` events, the last one's delta "
                "with the Citewise fields, then `[DONE]`."),
            400: OpenApiResponse(shapes.ErrorOut, description="invalid_value"),
            403: OpenApiResponse(shapes.ErrorOut, description="scope_missing"),
            503: OpenApiResponse(shapes.ErrorOut, description="llm_* codes"), **ERRORS},
        description="Answer the last user message from the knowledge bases named by "
                    "`model`, with the earlier messages as its history. Citations come as "
                    "Markdown footnotes in the content and in the message's `citations`.")
    def post(self, request):
        form = shapes.ChatCompletionRequest(data=request.data)
        form.is_valid(raise_exception=True)
        chat = form.chat()
        actor = actor_of(request)
        events = ask(actor, chat.question, knowledge_bases=knowledge_bases_of(actor, chat.model),
                     history=chat.history, temperature=chat.temperature,
                     max_tokens=chat.max_tokens)
        envelope = Envelope.new(chat.model)
        language = detect_language(chat.question)
        if not chat.stream:
            return Response(completion(request, events, envelope, language))
        response = StreamingHttpResponse(chunks(
            request, events, envelope, language=language,
            errors_language=translation.get_language(), include_usage=chat.include_usage),
            content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on at once
        return response
