"""Request and response shapes of the OpenAI-compatible endpoints (/v1/); the response
serializers only describe the OpenAPI schema (the views build plain dicts)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from citewise.api.openai_render import answer_of
from citewise.api.serializers import MAX_QUESTION, CitationOut, ClosestDocumentOut
from inference.backends.base import Turn

ANSWERED_ROLES = ("user", "assistant")
# System and developer messages are accepted and left out: the knowledge base's own
# instructions (set by its admins) and Citewise's citation rules govern the answer.
IGNORED_ROLES = ("system", "developer")


@extend_schema_field({"oneOf": [
    {"type": "string"},
    {"type": "array", "items": {"type": "object", "required": ["type", "text"], "properties": {
        "type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}}}},
], "nullable": True})
class ContentField(serializers.Field):
    """A message's content: a string, or a list of text parts ({"type": "text", "text":
    ...}, joined by line breaks); null (an assistant's tool call) counts as empty."""

    default_error_messages = {
        "invalid": gettext_lazy("Expected a string or a list of text parts."),
        "not_text": gettext_lazy("Only text content is supported."),
    }

    def to_internal_value(self, data) -> str:
        if isinstance(data, str):
            return data
        if not isinstance(data, list) or not all(isinstance(part, dict) for part in data):
            self.fail("invalid")
        if any(part.get("type") != "text" or not isinstance(part.get("text"), str)
               for part in data):
            self.fail("not_text")
        return "\n".join(part["text"] for part in data)

    def to_representation(self, value: str) -> str:
        return value


class MessageIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=[*IGNORED_ROLES, *ANSWERED_ROLES])
    content = ContentField(allow_null=True, default="")


class StreamOptions(serializers.Serializer):
    include_usage = serializers.BooleanField(
        default=False, help_text="Send one more chunk, with `usage` and no choices, before "
                                 "`[DONE]`.")


def _answer_length(value: int | None) -> int | None:
    """At most half the model's context: the sources need the rest."""
    limit = settings.VLLM_CONTEXT_LENGTH // 2
    if value is not None and value > limit:
        raise serializers.ValidationError(
            _("Ensure this value is less than or equal to %(limit)d.") % {"limit": limit})
    return value


class ChatCompletionRequest(serializers.Serializer):
    model = serializers.CharField(
        max_length=1000, help_text="A knowledge base's slug, or several joined with `+` "
                                   "(`it-handbook+hr`). GET /v1/models lists them.")
    messages = MessageIn(many=True, allow_empty=False, help_text=(
        "The conversation, oldest first; the last one is the question (role `user`). "
        "Earlier `user` and `assistant` messages are its history; `system` and "
        "`developer` messages are ignored."))
    stream = serializers.BooleanField(default=False, allow_null=True)
    stream_options = StreamOptions(required=False, allow_null=True)
    temperature = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=2,
        help_text="Sampling temperature, passed to vLLM (the extractive backend ignores it).")
    max_tokens = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, validators=[_answer_length],
        help_text="The answer's length limit, passed to vLLM (the extractive backend ignores "
                  "it); at most half the model's context.")
    max_completion_tokens = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, validators=[_answer_length],
        help_text="The newer name of `max_tokens` (wins when both are sent).")

    def validate_messages(self, messages: list[dict]) -> list[dict]:
        last = messages[-1]
        if last["role"] != "user" or not (last["content"] or "").strip():
            raise serializers.ValidationError(
                _("The last message must be the question: role “user”, with text."))
        if len(last["content"]) > MAX_QUESTION:
            raise serializers.ValidationError(
                _("The question is longer than %(limit)d characters.") % {"limit": MAX_QUESTION})
        return messages

    def chat(self) -> Chat:
        data = self.validated_data
        *earlier, last = data["messages"]
        options = data.get("stream_options") or {}
        return Chat(
            model=data["model"], question=last["content"].strip(),
            history=[_turn(m["role"], m["content"] or "") for m in earlier
                     if m["role"] in ANSWERED_ROLES and (m["content"] or "").strip()],
            stream=bool(data.get("stream")), include_usage=options.get("include_usage", False),
            temperature=data.get("temperature"),
            max_tokens=data.get("max_completion_tokens") or data.get("max_tokens"))


def _turn(role: str, content: str) -> Turn:
    """An assistant turn is one of our answers sent back: as the ask service wrote it."""
    return Turn(role, answer_of(content) if role == "assistant" else content)


@dataclass(frozen=True)
class Chat:
    """A chat completion request, parsed: the model (knowledge base slugs joined by "+"),
    the question, its history (assistant turns as the ask service wrote them)."""

    model: str
    question: str
    history: list[Turn]
    stream: bool
    include_usage: bool
    temperature: float | None
    max_tokens: int | None


# -- response shapes (schema only) ----------------------------------------------------
class ModelOut(serializers.Serializer):
    id = serializers.CharField(help_text="The knowledge base's slug.")
    object = serializers.CharField(default="model")
    created = serializers.IntegerField(help_text="When the knowledge base was created "
                                                 "(Unix seconds).")
    owned_by = serializers.CharField(default="citewise")
    name = serializers.CharField(help_text="The knowledge base's name (Citewise's field).")


class ModelListOut(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = ModelOut(many=True)


class AssistantMessageOut(serializers.Serializer):
    role = serializers.CharField(default="assistant")
    content = serializers.CharField(help_text=(
        "The answer in Markdown, each citation a footnote reference (`[^1]`), the "
        "footnotes (title, page, source URL) at the end; or the not-found text."))
    refusal = serializers.CharField(allow_null=True)
    citations = CitationOut(many=True, help_text="Citewise: the cited sources, as in "
                                                 "/api/v1/ask.")
    grounded = serializers.BooleanField(help_text="Citewise: every statement cites a "
                                                  "passage that supports it.")
    not_found = serializers.BooleanField(help_text="Citewise: the documents do not answer "
                                                   "the question.")
    closest_documents = ClosestDocumentOut(many=True)
    notice = serializers.CharField(allow_blank=True)


class ChoiceOut(serializers.Serializer):
    index = serializers.IntegerField()
    message = AssistantMessageOut()
    logprobs = serializers.JSONField(allow_null=True)
    finish_reason = serializers.ChoiceField(choices=["stop", "length"])


class CompletionUsageOut(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class ChatCompletionOut(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="chat.completion")
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChoiceOut(many=True)
    usage = CompletionUsageOut()


class ErrorDetailOut(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class ErrorOut(serializers.Serializer):
    error = ErrorDetailOut()
