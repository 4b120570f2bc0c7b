"""Request and response shapes of /api/v1/ (they also make the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from citewise.knowledge.models import KnowledgeBase, LanguageHint

MAX_QUESTION = 4000
MAX_K = 50


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


class CitationOut(serializers.Serializer):
    n = serializers.IntegerField()
    chunk_id = serializers.IntegerField(allow_null=True)
    knowledge_base = serializers.CharField()
    document = serializers.CharField()
    title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    heading_path = serializers.ListField(child=serializers.CharField())
    snippet = serializers.CharField()
    supported = serializers.BooleanField()
    source_url = serializers.URLField()


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


class PassageOut(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    knowledge_base = serializers.CharField()
    document = serializers.CharField()
    title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    heading_path = serializers.ListField(child=serializers.CharField())
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
        return kb.detected_language if kb.language == LanguageHint.AUTO else kb.language


class ProblemOut(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False,
                                   child=serializers.ListField(child=serializers.CharField()))
