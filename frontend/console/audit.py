"""The audit log at /console/audit/ (admins only): who did what, when, from which address,
with the values before and after a change; filtered, paginated, exported as CSV.
The events come from citewise.audit.services.events(); this module only reads the
filters and shapes the rows for people (translated labels, readable differences)."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from citewise.audit.models import Action, AuditEvent, Detail
from citewise.audit.services import EventFilter, events
from citewise.knowledge.permissions import editable_knowledge_bases
from frontend.console.access import admin_view

PAGE_SIZE = 50
CSV_BATCH = 1000
# A value longer than this (instructions, descriptions) is cut in the page; the CSV has
# it whole.
SHOWN_CHARACTERS = 200

# The names of the fields that events keep in `before`/`after` (knowledge/services.py,
# accounts/keys.py, accounts/roles.py), as people read them. Unknown names show as they are.
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "slug": gettext_lazy("Address name (slug)"),
    "description": gettext_lazy("Description"),
    "language": gettext_lazy("Language"),
    "embedding_model": gettext_lazy("Embedding model"),
    "query_prefix": gettext_lazy("Query prefix"),
    "passage_prefix": gettext_lazy("Passage prefix"),
    "answer_backend": gettext_lazy("Answer backend"),
    "instructions": gettext_lazy("Instructions"),
    "answer_examples": gettext_lazy("Answer examples"),
    "webhook_url": gettext_lazy("Webhook URL"),
    "readable_by_all": gettext_lazy("Everyone signed in may read"),
    "reader_users": gettext_lazy("Readers (people)"),
    "reader_groups": gettext_lazy("Readers (groups)"),
    "editor_users": gettext_lazy("Editors (people)"),
    "editor_groups": gettext_lazy("Editors (groups)"),
    "documents": gettext_lazy("Documents"),
    "file": gettext_lazy("File"),
    "version": gettext_lazy("Version"),
    "replaces": gettext_lazy("Replaces"),
    "is_active": gettext_lazy("May sign in"),
    "is_staff": gettext_lazy("May open Django's admin"),
    "is_superuser": gettext_lazy("Administrator"),
    "groups": gettext_lazy("Groups"),
    "prefix": gettext_lazy("Key prefix"),
    "owner": gettext_lazy("Owner"),
    "knowledge_bases": gettext_lazy("Knowledge bases"),
    "operations": gettext_lazy("Operations"),
    "rate_limit": gettext_lazy("Requests per minute"),
    "expires": gettext_lazy("Expires"),
    "revoked": gettext_lazy("Revoked"),
}
_POSITION = {name: position for position, name in enumerate(FIELD_LABELS)}


class FilterForm(forms.Form):
    action = forms.ChoiceField(label=pgettext_lazy("audit log", "Action"), required=False)
    person = forms.CharField(label=gettext_lazy("Person (user name)"), required=False,
                             max_length=150)
    knowledge_base = forms.ModelChoiceField(
        label=gettext_lazy("Knowledge base"), required=False, queryset=None,
        empty_label=gettext_lazy("All knowledge bases"))
    since = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any, *, request: HttpRequest) -> None:
        super().__init__(data, label_suffix="")
        self.fields["action"].choices = [("", _("All actions")), *Action.choices]
        self.fields["knowledge_base"].queryset = (
            editable_knowledge_bases(request.user).order_by("name"))

    def clean(self) -> dict:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end of the period is before its start."))
        return cleaned

    def chosen(self) -> EventFilter:
        """The filter from the fields that are valid (an invalid one does not filter)."""
        self.is_valid()
        valid = {name: value for name, value in self.cleaned_data.items()
                 if name not in self.errors}
        return EventFilter(**{name: value for name, value in valid.items()
                              if value not in ("", None)})


@dataclass(frozen=True)
class Change:
    """One field of a change, as text: `before`/`after` None where the event has no such
    side (an upload has only after); for lists, what was added and removed."""

    label: str
    before: str | None
    after: str | None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    event: AuditEvent
    changes: list[Change]
    detail: str


@admin_view
def audit_log(request: HttpRequest) -> HttpResponse:
    """The events matching the filters in the query string, newest first, PAGE_SIZE a page."""
    form = FilterForm(request.GET, request=request)
    page = Paginator(events(form.chosen()), PAGE_SIZE).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(request, "frontend/console/audit/log.html", {
        "form": form, "page": page, "rows": [row_of(event) for event in page],
        "filters": filters.urlencode(), "time_zone": timezone.get_current_timezone_name()})


@admin_view
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The events matching the filters as CSV (UTF-8 with a byte order mark, so that
    spreadsheet programs read Korean right), every row, newest first, streamed."""
    chosen = FilterForm(request.GET, request=request).chosen()
    response = StreamingHttpResponse(_csv_stream(chosen, translation.get_language()),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="citewise-audit-{stamp}.csv"'
    return response


def row_of(event: AuditEvent) -> Row:
    return Row(event, changes_of(event.before or {}, event.after or {}), detail_of(event.detail))


def detail_of(detail: str) -> str:
    return Detail(detail).label if detail in Detail.values else detail


def changes_of(before: dict, after: dict) -> list[Change]:
    """Each field named on either side, in the order of FIELD_LABELS, then the others by
    name (the database need not keep a JSON object's order); an empty value of a
    one-sided event (a new knowledge base without instructions) is left out."""
    shown = []
    for name in sorted({*before, *after}, key=_field_order):
        label = str(FIELD_LABELS.get(name, name))
        old, new = before.get(name), after.get(name)
        if (name in before) != (name in after) and _empty(old if name in before else new):
            continue
        if isinstance(old, list) and isinstance(new, list):
            shown.append(Change(label, _text(old), _text(new),
                                added=tuple(str(v) for v in new if v not in old),
                                removed=tuple(str(v) for v in old if v not in new)))
        else:
            shown.append(Change(label, _text(old) if name in before else None,
                                _text(new) if name in after else None))
    return shown


def _field_order(name: str) -> tuple[int, str]:
    return (_POSITION.get(name, len(_POSITION)), name)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _text(value: Any) -> str:
    if value is True or value is False:
        return _("Yes") if value else _("No")
    if _empty(value):
        return _("(none)")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    text = str(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "…"


async def _csv_stream(chosen: EventFilter, language: str) -> AsyncIterator[str]:
    """The CSV, CSV_BATCH events at a time (each batch read on a thread: the ORM is
    synchronous), so a year of events never sits in memory at once."""
    yield "\ufeff"
    text, last = await sync_to_async(_csv_batch)(chosen, language, None)
    yield text
    while last is not None:
        text, last = await sync_to_async(_csv_batch)(chosen, language, last)
        yield text


def _csv_batch(chosen: EventFilter, language: str,
               after: AuditEvent | None) -> tuple[str, AuditEvent | None]:
    """(CSV lines, the batch's last event or None when none follow); the header first."""
    writer = csv.writer(_Echo())
    with translation.override(language):
        found = events(chosen)
        if after is not None:  # keyset: the events after the last one, in the same order
            found = found.filter(Q(created_at__lt=after.created_at)
                                 | Q(created_at=after.created_at, pk__lt=after.pk))
        batch = list(found[:CSV_BATCH])
        lines = [writer.writerow(_safe(_csv_cells(event))) for event in batch]
        if after is None:
            lines.insert(0, writer.writerow(_csv_header()))
    return "".join(lines), batch[-1] if len(batch) == CSV_BATCH else None


def _csv_header() -> list[str]:
    return [_("When"), _("Who"), _("API key"), _("Address"), _("Action code"),
            pgettext("audit log", "Action"),
            _("Target type"), _("Target"), _("Knowledge base"), _("Detail"), _("Before"),
            _("After")]


def _csv_cells(event: AuditEvent) -> list[str]:
    return [timezone.localtime(event.created_at).isoformat(timespec="seconds"),
            event.actor, event.api_key_prefix, event.address or "", event.action,
            str(event.get_action_display()), event.target_type, event.target,
            event.knowledge_base.name if event.knowledge_base else "",
            detail_of(event.detail), _json(event.before), _json(event.after)]


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _safe(cells: list[str]) -> list[str]:
    """A spreadsheet runs a cell that starts with = + - @ as a formula; a file name or
    user name may start so. A leading apostrophe keeps it text (OWASP CSV injection)."""
    return [f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
            for cell in cells]


class _Echo:
    """csv.writer's file: writerow() returns the line instead of storing it."""

    def write(self, line: str) -> str:
        return line
