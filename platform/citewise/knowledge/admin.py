"""Admin pages for knowledge bases and documents. Uploads and deletions go through the
services, so they are checked by the permission service and reach the indexes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from citewise.audit.admin_saves import AuditedSaves
from citewise.knowledge import languages
from citewise.knowledge.models import AnswerExample, Document, KnowledgeBase, WebhookDelivery
from citewise.knowledge.permissions import editable_knowledge_bases
from citewise.knowledge.services import (
    KnowledgeBaseState,
    add_document,
    default_embedding_model,
    delete_document,
    delete_knowledge_base,
    record_changes,
    record_created,
)
from citewise.ops.readonly_admin import ReadOnlyAdmin


class EditableKnowledgeBaseFilter(admin.RelatedFieldListFilter):
    """A list's filter by knowledge base that offers only those the person may edit
    (the permission service): Django's own offers every knowledge base, which would tell
    a staff user the names of ones they may not know exist."""

    def field_choices(self, field: Any, request: HttpRequest,
                      model_admin: admin.ModelAdmin) -> list[tuple[int, str]]:
        return [(kb.pk, str(kb)) for kb in editable_knowledge_bases(request.user)]


class AnswerExampleInline(admin.StackedInline):
    model = AnswerExample
    extra = 0
    fields = ("question", "source", "answer", "position")
    verbose_name = "answer example (shown to the LLM as a model answer)"


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(AuditedSaves, admin.ModelAdmin):
    list_display = ("name", "slug", "language_decision", "embedding_model", "readable_by_all",
                    "document_count")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("reader_users", "reader_groups", "editor_users", "editor_groups")
    inlines = (AnswerExampleInline,)
    actions = ["rotate_webhook_secret"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "language", "language_decision")}),
        ("Search", {"fields": ("embedding_model", "query_prefix", "passage_prefix")}),
        ("Answers", {"fields": ("answer_backend", "instructions")}),
        ("Access", {"fields": ("readable_by_all", "reader_users", "reader_groups",
                               "editor_users", "editor_groups")}),
        ("Webhook", {"fields": ("webhook_url", "webhook_secret"),
                     "description": "Called when a document is indexed or fails, signed "
                                    "with the secret; see docs/api.md, Webhooks. Sent "
                                    "deliveries are listed under Webhook deliveries."}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[KnowledgeBase]:
        return editable_knowledge_bases(request.user)

    def get_form(self, request: HttpRequest, obj: KnowledgeBase | None = None,
                 change: bool = False,  # noqa: FBT001, FBT002 - Django's signature
                 **kwargs: Any) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change=change, **kwargs)
        field = form.base_fields.get("embedding_model")
        if field is not None:  # the create form: empty means "the default for the language"
            field.required = False
            field.initial = ""
            field.help_text = (f"Leave empty for the default of the language: English "
                               f"{settings.EMBEDDING_MODEL}; Korean, mixed or other "
                               f"{settings.EMBEDDING_MODEL_KOREAN}; auto picks one from "
                               "the first documents. Any sentence-transformers model id "
                               "or local path.")
        return form

    def save_model(self, request: HttpRequest, obj: KnowledgeBase, form: forms.ModelForm,
                   change: bool) -> None:  # noqa: FBT001 - Django's signature
        if not obj.embedding_model:
            obj.embedding_model = default_embedding_model(obj.language)
        super().save_model(request, obj, form, change)  # AuditedSaves: access and examples

    def stored_state(self, obj: KnowledgeBase) -> KnowledgeBaseState:
        return KnowledgeBaseState.of(obj)

    def record_created(self, actor, obj: KnowledgeBase) -> None:
        record_created(actor, obj)

    def record_changes(self, actor, obj: KnowledgeBase, before: KnowledgeBaseState) -> None:
        record_changes(actor, obj, before)

    def get_readonly_fields(self, request: HttpRequest, obj: KnowledgeBase | None = None):
        # The embedding model is fixed once vectors exist (see DESIGN: re-embed to change);
        # "auto" changes it only through a re-embedding (languages.py).
        fixed = ("language", "embedding_model", "query_prefix", "passage_prefix")
        shown = ("language_decision", "webhook_secret")
        return (*shown, *fixed) if obj else shown

    @admin.action(description=_("Rotate the webhook secret"))
    def rotate_webhook_secret(self, request: HttpRequest,
                              queryset: QuerySet[KnowledgeBase]) -> None:
        # Those without a URL have no secret to rotate; save() makes the new one.
        rotated = 0
        for kb in queryset.exclude(webhook_url=""):
            kb.webhook_secret = ""
            kb.save(update_fields=["webhook_secret", "updated_at"])
            rotated += 1
        self.message_user(request, ngettext(
            "%(count)d webhook secret replaced: give the new one to the receiver.",
            "%(count)d webhook secrets replaced: give the new ones to their receivers.",
            rotated) % {"count": rotated}, messages.SUCCESS)

    @admin.display(description="Language")
    def language_decision(self, kb: KnowledgeBase) -> str:
        return languages.summary(kb) if kb.pk else (
            "auto: the first document with text decides the model and passage size")

    @admin.display(description="Documents")
    def document_count(self, kb: KnowledgeBase) -> int:
        return kb.documents.count()

    def delete_model(self, request: HttpRequest, obj: KnowledgeBase) -> None:
        delete_knowledge_base(request.user, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[KnowledgeBase]) -> None:
        for kb in queryset:
            delete_knowledge_base(request.user, kb)


class UploadForm(forms.ModelForm):
    file = forms.FileField(help_text="PDF, Word, PowerPoint, Excel, CSV, HTML, Markdown, "
                                     "text, or a PNG/JPEG scan.")

    class Meta:
        model = Document
        fields = ("knowledge_base", "title")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "knowledge_base", "version", "status", "stage", "progress_percent",
                    "error", "updated_at")
    list_filter = ("status", "error_code", ("knowledge_base", EditableKnowledgeBaseFilter))
    search_fields = ("title", "original_name", "sha256")
    readonly_fields = ("original_name", "detected_type", "size", "sha256", "version", "status",
                       "stage", "progress", "error", "error_code", "page_count", "uploaded_by",
                       "created_at", "indexed_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        return super().get_queryset(request).filter(
            knowledge_base__in=editable_knowledge_bases(request.user))

    def get_form(self, request: HttpRequest, obj: Document | None = None, **kwargs: Any):
        if obj is None:
            kwargs["form"] = UploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Document | None = None):
        return ("knowledge_base", "title", "file") if obj is None else (
            ("title", *self.readonly_fields))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any):
        if db_field.name == "knowledge_base":
            kwargs["queryset"] = editable_knowledge_bases(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Progress")
    def progress_percent(self, document: Document) -> str:
        return f"{document.progress:.0%}"

    def save_model(self, request: HttpRequest, obj: Document, form: forms.ModelForm,
                   change: bool) -> None:  # noqa: FBT001 - Django's signature
        if change:
            super().save_model(request, obj, form, change)
            return
        upload = form.cleaned_data["file"]
        result = add_document(request.user, form.cleaned_data["knowledge_base"], upload,
                              original_name=upload.name,
                              title=form.cleaned_data.get("title") or None)
        # The admin redirects to this object's page.
        obj.pk = result.document.pk
        if result.duplicate:
            messages.warning(request, f"{upload.name}: the same content is already in this "
                                      f"knowledge base as {result.document.title!r}.")

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        delete_document(request.user, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            delete_document(request.user, document)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log, read-only: what was sent where, and why it failed."""

    list_display = ("created_at", "knowledge_base", "event", "document_name", "state",
                    "attempts", "last_status_code", "last_error", "delivered_at")
    list_filter = ("state", "event", ("knowledge_base", EditableKnowledgeBaseFilter))
    search_fields = ("url", "last_error")
    list_select_related = ("knowledge_base",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return super().get_queryset(request).filter(
            knowledge_base__in=editable_knowledge_bases(request.user))

    @admin.display(description="Document")
    def document_name(self, delivery: WebhookDelivery) -> str:
        return delivery.payload.get("document", {}).get("name", "")
