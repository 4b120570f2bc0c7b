"""Console pages of knowledge bases: the list (/console/), creating one, its page (state,
actions, "try a question"), settings and examples, access, re-indexing and deletion.
Who may do what is asked of citewise.knowledge.permissions; the work is done by
citewise.knowledge.administration."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from citewise.knowledge import administration
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import ADMIN_SETTINGS, changeable_settings, is_admin
from citewise.knowledge.services import access_of
from frontend import answers
from frontend.chat_messages import error_sentence
from frontend.console import knowledge_base_forms as kb_forms
from frontend.console.access import admin_view, console_view, editable_or_404

KnowledgeBaseView = Callable[..., HttpResponse]
HTMX_STOP_POLLING = 286


def knowledge_base_page(*, admin_only: bool = False):
    """A page of one knowledge base (`slug` -> `kb`): 404 unless the person may edit it,
    then 403 if the page is for admins and they are not."""
    def decorate(view: KnowledgeBaseView) -> KnowledgeBaseView:
        @console_view
        @wraps(view)
        def guarded(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            kb = editable_or_404(request, slug)
            if admin_only and not is_admin(request.user):
                raise PermissionDenied("Only administrators may do this.")
            return view(request, kb, *args, **kwargs)

        return guarded

    return decorate


@console_view
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The knowledge bases this person may edit (all of them for an admin)."""
    return render(request, "frontend/console/knowledge_bases/index.html",
                  {"summaries": administration.summaries(request.user),
                   "is_admin": is_admin(request.user)})


@admin_view
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    form = kb_forms.SettingsForm(request.POST or None, fields=ADMIN_SETTINGS | {"slug"})
    examples = kb_forms.ExampleFormSet(request.POST or None, prefix="examples")
    if request.method == "POST" and form.is_valid() and examples.is_valid():
        kb = administration.create(request.user, **form.cleaned_data,
                                   examples=kb_forms.examples_of(examples))
        messages.success(request, _("Knowledge base “%(name)s” created. Upload its documents, "
                                    "then decide who may read it.") % {"name": kb.name})
        return redirect("console:kb", slug=kb.slug)
    return render(request, "frontend/console/knowledge_bases/settings.html",
                  {"form": form, "examples": examples, "kb": None})


def _page(request: HttpRequest, kb: KnowledgeBase, **context: Any) -> HttpResponse:
    admin = is_admin(request.user)
    return render(request, "frontend/console/knowledge_bases/detail.html", {
        "kb": kb, "summary": administration.summary_of(kb), "is_admin": admin,
        "access": access_of(kb) if admin else None,
        "examples": kb.answer_examples.count(), "try_form": kb_forms.TryForm(), **context})


@knowledge_base_page()
@require_GET
def detail(request: HttpRequest, kb: KnowledgeBase) -> HttpResponse:
    return _page(request, kb)


@knowledge_base_page()
@require_GET
def status(request: HttpRequest, kb: KnowledgeBase) -> HttpResponse:
    """The state block of the knowledge base's page, polled while it is busy. Once it is
    not, the answer's status 286 tells htmx to stop polling (and still shows it)."""
    summary = administration.summary_of(kb)
    response = render(request, "frontend/console/knowledge_bases/_status.html",
                      {"kb": kb, "summary": summary})
    if not summary.busy_now:
        response.status_code = HTMX_STOP_POLLING
    return response


@knowledge_base_page()
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, kb: KnowledgeBase) -> HttpResponse:
    allowed = changeable_settings(request.user, kb) - administration.fixed_settings(kb)
    data = request.POST or None
    form = kb_forms.SettingsForm(data, fields=allowed, kb=kb,
                                 initial=kb_forms.settings_initial(kb))
    examples = (kb_forms.ExampleFormSet(data, prefix="examples",
                                        initial=kb_forms.examples_initial(kb))
                if "examples" in allowed else None)
    if request.method == "POST" and form.is_valid() and (examples is None
                                                          or examples.is_valid()):
        values = dict(form.cleaned_data)
        if examples is not None:
            values["examples"] = kb_forms.examples_of(examples)
        try:
            changed = administration.change_settings(request.user, kb, values)
        except administration.SettingFixed:  # a document arrived since the form was drawn
            form.add_error(None, _("The language and the embedding model are fixed: this "
                                   "knowledge base has documents, and vectors of two models "
                                   "cannot share an index. Re-indexing embeds the passages "
                                   "again with the same model."))
        else:
            messages.success(request,
                             _("Settings saved.") if changed else _("Nothing changed."))
            return redirect("console:kb", slug=kb.slug)
    return render(request, "frontend/console/knowledge_bases/settings.html", {
        "form": form, "examples": examples, "kb": kb,
        "fixed_model": "embedding_model" not in allowed and is_admin(request.user)})


@knowledge_base_page(admin_only=True)
@require_http_methods(["GET", "POST"])
def access(request: HttpRequest, kb: KnowledgeBase) -> HttpResponse:
    form = kb_forms.AccessForm(
        request.POST or None, initial=kb_forms.access_initial(access_of(kb)))
    if request.method == "POST" and form.is_valid():
        changed = administration.set_access(request.user, kb, **form.cleaned_data)
        messages.success(request, _("Access saved.") if changed else _("Nothing changed."))
        return redirect("console:kb", slug=kb.slug)
    return render(request, "frontend/console/knowledge_bases/access.html",
                  {"form": form, "kb": kb})


@knowledge_base_page(admin_only=True)
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, kb: KnowledgeBase) -> HttpResponse:
    if request.method == "POST":
        name = kb.name
        administration.delete(request.user, kb)
        messages.success(request, _("Knowledge base “%(name)s” deleted.") % {"name": name})
        return redirect("console:index")
    return render(request, "frontend/console/knowledge_bases/delete.html",
                  {"kb": kb, "removed": administration.deletion_summary(kb)})


@knowledge_base_page()
@require_POST
def reindex(request: HttpRequest, kb: KnowledgeBase) -> HttpResponse:
    try:
        model = administration.reindex(request.user, kb)
    except administration.NothingToReindex:
        messages.error(request, _("There is nothing to re-index yet: no document of this "
                                  "knowledge base has been indexed."))
    else:
        messages.success(request, _("Re-indexing started: every passage is embedded again "
                                    "with %(model)s. The current index answers until the "
                                    "new one is ready.") % {"model": model})
    return redirect("console:kb", slug=kb.slug)


@knowledge_base_page()
@require_POST
def try_question(request: HttpRequest, kb: KnowledgeBase) -> HttpResponse:
    """Ask this knowledge base as the person, and show the answer on its page as the chat
    would (frontend.answers)."""
    form = kb_forms.TryForm(request.POST)
    if not form.is_valid():
        return _page(request, kb, try_form=form)
    trial = administration.try_question(request.user, kb, form.cleaned_data["question"])
    if trial.message is None:
        return _page(request, kb, try_form=form, failure=error_sentence(trial.failure))
    return _page(request, kb, try_form=form,
                 answer=answers.shown(request.user, trial.message,
                                      question=form.cleaned_data["question"]))
