"""A knowledge base's documents in the console: upload (files and .zip archives, one
request per file), the list with live ingestion progress, retry, bulk delete, and one
document's page. Editors of the knowledge base and admins only (editable_or_404)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import get_language, get_language_info, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from citewise.chat.citing import answers_citing
from citewise.knowledge.browse import (
    PENDING,
    DocumentFilters,
    chunks_of,
    documents_of,
    languages_of,
    pending_ids,
    status_counts,
    text_preview,
    watched,
)
from citewise.knowledge.choices import FAILURE_ADVICE, FailureCode
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase, Stage
from citewise.knowledge.places import headings_below_title
from citewise.knowledge.services import delete_document
from citewise.knowledge.uploads import (
    CannotRetry,
    Uploaded,
    add_upload,
    may_requeue,
    retry_document,
)
from citewise.knowledge.viewer import is_pdf
from citewise.knowledge.viewer import page_image as page_image_of
from frontend.console.access import console_view, editable_or_404

DOCUMENTS_PER_PAGE = 50
CHUNKS_PER_PAGE = 20
CITING_ANSWERS_SHOWN = 20
# Longest list of ids one poll may ask about (a page shows at most DOCUMENTS_PER_PAGE,
# each with the version it replaces).
MAX_WATCHED = 2 * DOCUMENTS_PER_PAGE

STATUS_LABELS = {
    DocumentStatus.QUEUED: gettext_lazy("Queued"),
    DocumentStatus.PROCESSING: gettext_lazy("Processing"),
    DocumentStatus.INDEXED: gettext_lazy("Indexed"),
    DocumentStatus.FAILED: gettext_lazy("Failed"),
}
STAGE_LABELS = {
    Stage.QUEUED: gettext_lazy("Waiting for a worker"),
    Stage.PARSING: gettext_lazy("Reading the file"),
    Stage.CHUNKING: gettext_lazy("Splitting into passages"),
    Stage.EMBEDDING: gettext_lazy("Embedding passages"),
    Stage.INDEXING: gettext_lazy("Adding to the index"),
    Stage.INDEXED: gettext_lazy("Indexed"),
    Stage.FAILED: gettext_lazy("Failed"),
}
# ingestion.detect.SUPPORTED_TYPES, as people name them.
TYPE_LABELS = {
    "pdf": "PDF", "docx": "Word", "pptx": "PowerPoint", "xlsx": "Excel", "csv": "CSV",
    "html": "HTML", "markdown": "Markdown", "text": gettext_lazy("Plain text"),
    "png": gettext_lazy("PNG image"), "jpeg": gettext_lazy("JPEG image"),
}


class DocumentFilterForm(forms.Form):
    """The list's search and filters (GET); a value that is not a choice filters nothing."""

    q = forms.CharField(required=False, max_length=200, label=gettext_lazy("Name contains"))
    status = forms.ChoiceField(
        required=False, label=gettext_lazy("Status"),
        choices=[("", gettext_lazy("Any status")), *STATUS_LABELS.items()])
    type = forms.ChoiceField(
        required=False, label=gettext_lazy("Type"),
        choices=[("", gettext_lazy("Any type")), *TYPE_LABELS.items()])
    reason = forms.ChoiceField(
        required=False, label=gettext_lazy("Failure reason"),
        choices=[("", gettext_lazy("Any reason")), *FailureCode.choices])

    def filters(self) -> DocumentFilters:
        self.is_valid()
        data = self.cleaned_data
        return DocumentFilters(query=data.get("q", "").strip(), status=data.get("status", ""),
                               detected_type=data.get("type", ""),
                               error_code=data.get("reason", ""))


@dataclass(frozen=True)
class Row:
    """A document as one row of the list shows it."""

    document: Document
    status_label: str
    stage_label: str
    type_label: str
    reason_label: str  # the failure's translated code; "" unless failed
    advice: str  # what to do, in the reader's language; "" unless failed and not English
    percent: int  # ingestion progress, 0-100
    pending: bool
    may_requeue: bool


def row(document: Document) -> Row:
    return Row(document=document,
               status_label=STATUS_LABELS.get(document.status, document.status),
               stage_label=STAGE_LABELS.get(document.stage, document.stage),
               type_label=TYPE_LABELS.get(document.detected_type, document.detected_type),
               reason_label=reason_label(document.error_code)
               if document.status == DocumentStatus.FAILED else "",
               advice=advice(document.error_code)
               if document.status == DocumentStatus.FAILED else "",
               percent=round(100 * document.progress),
               pending=document.status in PENDING,
               may_requeue=may_requeue(document))


def reason_label(code: str) -> str:
    """A failure code in the reader's language (an unknown or empty code: "Failed")."""
    return str(FailureCode(code).label) if code in FailureCode.values else _("Failed")


def advice(code: str) -> str:
    """What to do about a failure, translated; "" in English, where the stored reason
    (always English, with the file's own details) already says it."""
    if code not in FailureCode.values or (get_language() or "en").startswith("en"):
        return ""
    return str(FAILURE_ADVICE[FailureCode(code)])


@console_view
@require_GET
def document_list(request: HttpRequest, slug: str) -> HttpResponse:
    kb = editable_or_404(request, slug)
    form = DocumentFilterForm(request.GET)
    filters = form.filters()
    page = Paginator(documents_of(kb, filters), DOCUMENTS_PER_PAGE).get_page(
        request.GET.get("page"))
    documents = list(page.object_list)
    return render(request, "frontend/console/documents/list.html", {
        "kb": kb, "form": form, "page": page, "rows": [row(d) for d in documents],
        "watch": pending_ids(documents), "filtered": filters != DocumentFilters(),
        "summary": progress_summary(kb), "back": request.GET.urlencode(),
    })


@console_view
@require_GET
def document_rows(request: HttpRequest, slug: str) -> HttpResponse:
    """The poll of the list (htmx, every 2 s while any document is pending): the rows of
    the watched documents as they stand, swapped in by id, and the next poll, which is
    not scheduled once none is pending."""
    kb = editable_or_404(request, slug)
    ids = [int(value) for value in request.GET.get("ids", "").split(",")
           if value.isdigit()][:MAX_WATCHED]
    documents, gone = watched(kb, ids)
    summary = progress_summary(kb)
    return render(request, "frontend/console/documents/_poll.html", {
        "kb": kb, "rows": [row(document) for document in documents], "gone": gone,
        "watch": pending_ids(documents), "summary": summary,
        "summary_changed": summary.key != request.GET.get("shown"),
        "back": request.GET.get("back", "")})


@dataclass(frozen=True)
class Summary:
    """What the live region says: the knowledge base's documents by status. `key` names
    the counts, so a poll that finds them unchanged leaves the region (and a screen
    reader) alone."""

    text: str
    key: str


def progress_summary(kb: KnowledgeBase) -> Summary:
    counts = status_counts(kb)
    pending = counts[DocumentStatus.QUEUED] + counts[DocumentStatus.PROCESSING]
    values = {"pending": pending, "indexed": counts[DocumentStatus.INDEXED],
              "failed": counts[DocumentStatus.FAILED]}
    key = "{pending}-{indexed}-{failed}".format(**values)
    if pending:
        return Summary(ngettext("%(pending)d document being processed; %(indexed)d indexed, "
                                "%(failed)d failed.",
                                "%(pending)d documents being processed; %(indexed)d "
                                "indexed, %(failed)d failed.", pending) % values, key)
    return Summary(_("No document is being processed; %(indexed)d indexed, %(failed)d "
                     "failed.") % values, key)


@console_view
@require_POST
def upload(request: HttpRequest, slug: str) -> HttpResponse:
    """Files posted as `file` (the page's script sends one per request, to show each
    one's progress; a form without script may send several). Answers with what became
    of each: a fragment for the script, or a page."""
    kb = editable_or_404(request, slug)
    files = request.FILES.getlist("file")
    if not files:
        return HttpResponse(_("Choose at least one file."), status=400,
                            content_type="text/plain; charset=utf-8")
    outcomes: list[Uploaded] = []
    for uploaded in files:
        outcomes.extend(add_upload(request.user, kb, uploaded, original_name=uploaded.name))
    context = {"kb": kb, "outcomes": [outcome_view(o) for o in outcomes]}
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        # The script shows the file's name above this: only an archive's members are named.
        context["file_name"] = files[0].name
        return render(request, "frontend/console/documents/_uploaded.html", context)
    return render(request, "frontend/console/documents/uploaded.html", context)


@dataclass(frozen=True)
class OutcomeView:
    name: str
    document: Document | None
    duplicate: bool
    reason_label: str
    error: str


def outcome_view(outcome: Uploaded) -> OutcomeView:
    document = outcome.result.document if outcome.result else None
    failed = document is not None and document.status == DocumentStatus.FAILED
    code = document.error_code if failed else outcome.code
    return OutcomeView(
        name=outcome.name, document=document,
        duplicate=bool(outcome.result and outcome.result.duplicate),
        reason_label=reason_label(code) if (failed or outcome.code) else "",
        error=document.error if failed else outcome.error)


@console_view
@require_POST
def retry(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    """Queue a failed document again, or replace it with the file posted as `file`."""
    kb = editable_or_404(request, slug)
    document = get_object_or_404(kb.documents.select_related("knowledge_base"), pk=document_id)
    replacement = request.FILES.get("file")
    try:
        if replacement is not None:
            result = retry_document(request.user, document, replacement=replacement,
                                    original_name=replacement.name)
        else:
            result = retry_document(request.user, document)
    except CannotRetry as refused:
        messages.error(request, RETRY_REFUSALS.get(refused.code, str(refused)))
    except PermissionDenied:
        raise Http404("No such document") from None
    else:
        messages.success(request, retry_message(kb, document, result.document,
                                                duplicate=result.duplicate))
    return redirect(_back_to_list(request, kb))


RETRY_REFUSALS = {
    "not_failed": gettext_lazy("Only a failed document can be retried."),
    "needs_new_file": gettext_lazy("The same file would fail again: choose a new file "
                                   "for it."),
    "duplicate": gettext_lazy("A document with the same content is already in this "
                              "knowledge base: delete this failed one."),
}


def retry_message(kb: KnowledgeBase, failed: Document, now: Document, *,
                  duplicate: bool) -> str:
    link = reverse("console:document", args=[kb.slug, now.pk])
    if duplicate:
        return format_html(_("The new file for {failed} is a duplicate of "
                             "<a href=\"{link}\">{title}</a>."),
                           failed=failed.original_name, link=link, title=now.title)
    if now.pk == failed.pk:
        return format_html(_("{name} is queued again."), name=failed.original_name)
    return format_html(_("<a href=\"{link}\">{name}</a> is queued in place of {failed}."),
                       link=link, name=now.original_name, failed=failed.original_name)


def _back_to_list(request: HttpRequest, kb: KnowledgeBase) -> str:
    """The list as the person left it (its filters and page), from the form's `back`."""
    back = QueryDict(request.POST.get("back", "")).urlencode()  # re-encoded: no stray text
    return reverse("console:documents", args=[kb.slug]) + (f"?{back}" if back else "")


@console_view
@require_POST
def delete_documents(request: HttpRequest, slug: str) -> HttpResponse:
    """Bulk delete: the first post (checked ids) shows what would go; the second, with
    `confirm`, deletes them."""
    kb = editable_or_404(request, slug)
    ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
    chosen = list(kb.documents.filter(pk__in=ids).order_by("title"))
    if not chosen:
        messages.error(request, _("Choose the documents to delete first."))
        return redirect(_back_to_list(request, kb))
    if "confirm" not in request.POST:
        return render(request, "frontend/console/documents/confirm_delete.html",
                      {"kb": kb, "documents": chosen, "back": request.POST.get("back", "")})
    for document in chosen:
        delete_document(request.user, document)
    messages.success(request, ngettext("%(count)d document deleted.",
                                       "%(count)d documents deleted.", len(chosen))
                     % {"count": len(chosen)})
    return redirect(_back_to_list(request, kb))


@console_view
@require_GET
def document_detail(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    kb = editable_or_404(request, slug)
    document = get_object_or_404(kb.documents.select_related("uploaded_by", "replaces"),
                                 pk=document_id)
    chunks = Paginator(chunks_of(document), CHUNKS_PER_PAGE).get_page(request.GET.get("chunks"))
    pdf = is_pdf(document)
    preview_page = _preview_page(request, document) if pdf else None
    return render(request, "frontend/console/documents/detail.html", {
        "kb": kb, "document": document, "row": row(document), "chunks": chunks,
        # Each passage with its headings below the title (the page's heading).
        "passages": [(chunk, headings_below_title(chunk.heading_path, document.title))
                     for chunk in chunks],
        "document_languages": [(code, language_name(code), percent)
                      for code, percent in languages_of(document)],
        "pdf": pdf, "preview_page": preview_page,
        "text_preview": "" if pdf else text_preview(document),
        "answers": list(answers_citing(document, limit=CITING_ANSWERS_SHOWN)),
    })


def language_name(code: str) -> str:
    """A language's name in the reader's language ("ko" -> "Korean", "한국어"), or its
    code when Django does not know it."""
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def _preview_page(request: HttpRequest, document: Document) -> int:
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        number = 1
    return min(max(number, 1), document.page_count or 1)


@console_view
@require_GET
def page_image(request: HttpRequest, slug: str, document_id: int, page: int) -> FileResponse:
    """A page of a PDF document as a PNG (rendered once, kept: viewer.page_image)."""
    kb = editable_or_404(request, slug)
    document = get_object_or_404(kb.documents, pk=document_id)
    image = page_image_of(document, page)
    if image is None:
        raise Http404("No such page")
    response = FileResponse(image.open("rb"), content_type="image/png")
    # Only this person's browser may keep it: another may not edit the knowledge base.
    response["Cache-Control"] = "private, max-age=3600"
    return response
