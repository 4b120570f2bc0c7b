"""Request and response shapes of /api/v1/ (they also make the OpenAPI schema)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from citewise.api.problems import UnreadableFile, UploadTooLarge
from citewise.chat.conversations import visible_citations, visible_closest_documents
from citewise.chat.models import Conversation, Feedback, Message, Rating
from citewise.chat.visibility import visible_text, withheld
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase
from ingestion.detect import SUPPORTED_LIST, detect_stream_type
from ingestion.errors import EncryptedDocument, IngestionError

MAX_QUESTION = 4000
MAX_K = 50
MAX_COMMENT = 2000
MEGABYTE = 1024 * 1024
# Why a file is refused at upload, for people (ingestion's own messages are English only).
ENCRYPTED = gettext_lazy("The file is password-protected. Remove the password and upload "
                         "it again.")
UNSUPPORTED = gettext_lazy("Citewise cannot read this type of file. Supported types: "
                           "%(types)s.")


class KnowledgeBaseSlugs(serializers.ListField):
    child = serializers.SlugField(allow_unicode=True, max_length=100)

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, allow_empty=False, max_length=50,
                         help_text="Slugs; leave out to use every knowledge base the key "
                                   "may read.", **kwargs)


class AskRequest(serializers.Serializer):
    question = serializers.CharField(max_length=MAX_QUESTION)
    knowledge_bases = KnowledgeBaseSlugs()
    conversation_id = serializers.IntegerField(
        required=False, min_value=1, help_text="Continue a conversation of this key.")
    stream = serializers.BooleanField(
        default=False, help_text="Answer as Server-Sent Events (delta, citation, notice, "
                                 "not_found, done, error).")


class SearchRequest(serializers.Serializer):
    query = serializers.CharField(max_length=MAX_QUESTION)
    knowledge_bases = KnowledgeBaseSlugs()
    k = serializers.IntegerField(default=10, min_value=1, max_value=MAX_K)


class SourceOut(serializers.Serializer):
    # Where a citation or a passage comes from: the fields both share. (No docstring: the
    # schema would show it as the subclasses' description.)

    knowledge_base = serializers.CharField()
    document = serializers.CharField()
    title = serializers.CharField()
    page = serializers.IntegerField(
        allow_null=True, help_text="The page of a PDF or the slide of a presentation "
        "(1-based) holding the quoted sentence (a passage: where it starts); null for "
        "formats without pages.")
    line = serializers.IntegerField(
        allow_null=True, help_text="The line of a text, Markdown or CSV file (as an editor "
        "numbers it, a CSV's header line included), or the row of a spreadsheet (as Excel "
        "numbers it, on the sheet named first in heading_path), holding the quoted "
        "sentence (a passage: where it starts); null for formats without lines (PDF, Word, "
        "HTML, presentations).")
    location = serializers.CharField(
        allow_blank=True, help_text="Where that is, in words and in the response's "
        "language: \"page 3\", \"slide 3\", \"Prices, row 12\", \"line 40\"; empty when "
        "the format has neither pages nor lines.")
    heading_path = serializers.ListField(child=serializers.CharField())


class CitationOut(SourceOut):
    """A numbered source of an answer: `n` is the number in the answer's [n] markers."""

    n = serializers.IntegerField()
    chunk_id = serializers.IntegerField(allow_null=True)
    snippet = serializers.CharField()
    supported = serializers.BooleanField()
    source_url = serializers.URLField(
        allow_null=True, help_text="Null once the cited document has been deleted.")


class ClosestDocumentOut(serializers.Serializer):
    document = serializers.CharField()
    title = serializers.CharField()
    knowledge_base = serializers.CharField()
    source_url = serializers.URLField()


class UsageOut(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()


class AskResponse(serializers.Serializer):
    answer = serializers.CharField()
    citations = CitationOut(many=True)
    grounded = serializers.BooleanField()
    not_found = serializers.BooleanField()
    closest_documents = ClosestDocumentOut(many=True)
    notice = serializers.CharField(allow_blank=True)
    backend = serializers.CharField()
    usage = UsageOut()
    conversation_id = serializers.IntegerField()
    message_id = serializers.IntegerField()


class PassageOut(SourceOut):
    """A passage search found, with its scores."""

    chunk_id = serializers.IntegerField()
    text = serializers.CharField()
    score = serializers.FloatField()
    scores = serializers.DictField(child=serializers.FloatField(allow_null=True))
    source_url = serializers.URLField()


class SearchResponse(serializers.Serializer):
    passages = PassageOut(many=True)


class KnowledgeBaseOut(serializers.ModelSerializer):
    language = serializers.SerializerMethodField()

    class Meta:
        model = KnowledgeBase
        fields = ["slug", "name", "description", "language", "created_at", "updated_at"]

    def get_language(self, kb: KnowledgeBase) -> str:
        """The language set by an admin, else the one detected from the documents ("" until
        a document had text)."""
        return kb.documents_language


class ProblemOut(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False,
                                   child=serializers.ListField(child=serializers.CharField()))


# --- Documents -------------------------------------------------------------------------

@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """A file part of a multipart/form-data request."""


class DocumentUpload(serializers.Serializer):
    file = UploadField(help_text="The document (PDF, Word, PowerPoint, Excel, CSV, HTML, "
                                 "Markdown, text, PNG or JPEG).")
    knowledge_base = serializers.SlugField(allow_unicode=True, max_length=100)
    title = serializers.CharField(required=False, max_length=500,
                                  help_text="Shown in citations; default: the file name.")

    def validate_file(self, upload):
        """Refuse at once what ingestion would refuse from the first bytes: too large (413),
        an unsupported type or a password-protected file (422)."""
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise UploadTooLarge(settings.MAX_UPLOAD_BYTES // MEGABYTE)
        try:
            detect_stream_type(upload, upload.name)
        except IngestionError as refused:
            detail = (ENCRYPTED if isinstance(refused, EncryptedDocument)
                      else UNSUPPORTED % {"types": SUPPORTED_LIST})
            raise UnreadableFile(str(detail), code=refused.code) from None
        return upload


class DocumentFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=DocumentStatus.choices, required=False)
    knowledge_base = serializers.SlugField(allow_unicode=True, max_length=100, required=False,
                                           help_text="A knowledge base's slug.")


class DocumentErrorOut(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, e.g. unsupported_type, too_large, "
                                           "parse_time_limit, ingestion_failed.")
    message = serializers.CharField(help_text="What is wrong and what to do about it.")


class DocumentOut(serializers.ModelSerializer):
    knowledge_base = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    name = serializers.CharField(source="original_name", read_only=True,
                                 help_text="The uploaded file's name.")
    error = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "knowledge_base", "title", "name", "detected_type", "size",
                  "version", "replaces", "status", "stage", "progress", "error", "page_count",
                  "created_at", "updated_at", "indexed_at"]
        extra_kwargs = {"size": {"help_text": "Bytes."},
                        "progress": {"help_text": "0 to 1 within the whole ingestion."},
                        "replaces": {"help_text": "The document this one is a newer version "
                                                  "of; it goes once this one is indexed."}}

    @extend_schema_field(DocumentErrorOut(allow_null=True))
    def get_error(self, document: Document) -> dict | None:
        """Why ingestion failed: null unless status is failed."""
        if not document.error:
            return None
        return {"code": document.error_code or IngestionError.code, "message": document.error}


class DocumentUploadOut(DocumentOut):
    duplicate = serializers.SerializerMethodField(
        help_text="True: the same content was already in the knowledge base; this is that "
                  "document and nothing new was added.")

    class Meta(DocumentOut.Meta):
        fields = [*DocumentOut.Meta.fields, "duplicate"]

    def get_duplicate(self, document: Document) -> bool:
        return self.context["duplicate"]


# --- Conversations ---------------------------------------------------------------------

def _absolute_or_none(request, url: str) -> str | None:
    return request.build_absolute_uri(url) if url else None


class FeedbackOut(serializers.ModelSerializer):
    message_id = serializers.IntegerField()

    class Meta:
        model = Feedback
        fields = ["message_id", "rating", "comment"]


class MessageOut(serializers.ModelSerializer):
    """A question (role user) or an answer (role assistant). The answer's fields (grounded,
    not_found, stopped, error_code, notice, backend, citations, closest_documents, usage,
    feedback) are false, empty or null on questions. error_code: why the answer failed
    (an llm_* code; the text is what arrived before), empty when it did not."""

    # Context: request, actor, readable ({knowledge base id: slug} the key reads now:
    # permissions.readable_slugs, asked once for the whole conversation), feedback
    # ({message id: Feedback}).

    text = serializers.SerializerMethodField()
    withheld = serializers.SerializerMethodField()
    citations = serializers.SerializerMethodField()
    closest_documents = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    feedback = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "role", "text", "withheld", "created_at", "grounded", "not_found",
                  "stopped", "error_code", "notice", "backend", "citations",
                  "closest_documents", "usage", "feedback"]

    def get_text(self, message: Message) -> str:
        """The question or answer; for a withheld answer, the sentence saying why."""
        return visible_text(self.context["actor"], message, self.context["readable"])

    def get_withheld(self, message: Message) -> bool:
        """True for an answer that cited a knowledge base the key no longer reads: its
        text is not shown (code answer_withheld)."""
        return withheld(self.context["actor"], message, self.context["readable"])

    @extend_schema_field(CitationOut(many=True))
    def get_citations(self, message: Message) -> list[dict]:
        """Only those of knowledge bases the key still reads."""
        shown = visible_citations(self.context["actor"], message, self.context["readable"])
        return [{**{k: v for k, v in shown[n].items() if k not in ("url", "document_type")},
                 "source_url": _absolute_or_none(self.context["request"], shown[n]["url"])}
                for n in sorted(shown)]

    @extend_schema_field(ClosestDocumentOut(many=True))
    def get_closest_documents(self, message: Message) -> list[dict]:
        request = self.context["request"]
        return [{"document": d["document"], "title": d["title"],
                 "knowledge_base": d.get("knowledge_base", ""),
                 "source_url": request.build_absolute_uri(d["url"])}
                for d in visible_closest_documents(self.context["actor"], message,
                                                   self.context["readable"])]

    @extend_schema_field(UsageOut)
    def get_usage(self, message: Message) -> dict:
        return {"prompt_tokens": message.prompt_tokens,
                "completion_tokens": message.completion_tokens}

    @extend_schema_field(FeedbackOut(allow_null=True))
    def get_feedback(self, message: Message) -> dict | None:
        """This key's feedback on the answer, if it gave some."""
        given = self.context["feedback"].get(message.pk)
        return FeedbackOut(given).data if given else None


class ConversationOut(serializers.ModelSerializer):
    # Context: readable ({knowledge base id: slug} the key may read now).

    knowledge_bases = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "title", "knowledge_bases", "created_at", "updated_at"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_knowledge_bases(self, conversation: Conversation) -> list[str]:
        """Slugs of the knowledge bases it asks that the key may still read."""
        readable = self.context["readable"]
        return sorted(readable[kb.pk] for kb in conversation.knowledge_bases.all()
                      if kb.pk in readable)


class ConversationDetailOut(ConversationOut):
    messages = MessageOut(many=True)

    class Meta(ConversationOut.Meta):
        fields = [*ConversationOut.Meta.fields, "messages"]


class FeedbackIn(serializers.Serializer):
    rating = serializers.ChoiceField(choices=Rating.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT,
                                    default="")
