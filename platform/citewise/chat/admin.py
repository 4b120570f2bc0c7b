"""Admin pages for what the answers tell administrators: the questions the documents did
not answer (the gap report) and the tokens answers used (the usage report). Read-only;
staff see only the knowledge bases they edit. The console's reports (/console/reports/)
chart and group the same rows; both scope them with citewise.chat.reports."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest

from citewise.chat.models import Answer, Message, Role, UnansweredQuestion
from citewise.chat.reports import conversation_asked, unanswered_asked
from citewise.knowledge.admin import EditableKnowledgeBaseFilter
from citewise.knowledge.permissions import editable_knowledge_bases


def _editable_ids(request: HttpRequest) -> list[int]:
    return list(editable_knowledge_bases(request.user).values_list("pk", flat=True))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(ReadOnlyAdmin):
    """Questions answered "not found": what the knowledge bases are missing."""

    list_display = ("question", "asked_of", "closest", "similarity", "created_at")
    list_filter = (("knowledge_bases", EditableKnowledgeBaseFilter), "created_at")
    search_fields = ("question",)
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[UnansweredQuestion]:
        # A question asked of several knowledge bases shows only those the person may
        # edit (`shown`): the others may be ones they may not know exist.
        editable = editable_knowledge_bases(request.user)
        rows = super().get_queryset(request).prefetch_related(
            Prefetch("knowledge_bases", queryset=editable, to_attr="shown"))
        if request.user.is_superuser:
            return rows
        return rows.filter(unanswered_asked(_editable_ids(request)))

    @admin.display(description="Knowledge bases")
    def asked_of(self, row: UnansweredQuestion) -> str:
        return ", ".join(kb.name for kb in row.shown)

    @admin.display(description="Closest passage's similarity (0-1)", ordering="best_score")
    def similarity(self, row: UnansweredQuestion) -> str:
        """How close the documents came: near 1, a passage says much the same as the
        question (check the wording); near 0, nothing is about it."""
        return "-" if row.best_score is None else f"{row.best_score:.2f}"

    @admin.display(description="Closest documents")
    def closest(self, row: UnansweredQuestion) -> str:
        slugs = {kb.slug for kb in row.shown}
        return ", ".join(item.get("title") or item.get("document", "")
                         for item in row.closest_documents
                         if item.get("knowledge_base") in slugs)


@admin.register(Answer)
class UsageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "backend", "prompt_tokens", "completion_tokens",
                    "latency_ms", "not_found", "grounded")
    list_filter = ("backend", "not_found", "grounded",
                   ("conversation__knowledge_bases", EditableKnowledgeBaseFilter))
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        rows = super().get_queryset(request).filter(role=Role.ASSISTANT)
        if request.user.is_superuser:
            return rows
        return rows.filter(conversation_asked(_editable_ids(request)))
