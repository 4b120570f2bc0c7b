"""Reports (/console/reports/<report>/): each a chart and a table, filtered by knowledge
base and period, with the table as CSV (/console/reports/<report>/csv/?table=..., the
same filters). The numbers come from citewise.chat.reports; which knowledge bases a
person may report on, from the permission service (the ones they may edit; all for an
admin): another knowledge base's slug is a 404, as if it did not exist.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from citewise.chat import reports
from citewise.chat.models import Rating
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import editable_knowledge_bases, is_admin
from frontend.console.access import console_view, editable_or_404
from frontend.console.charts import Series, day_bars, long_day, number, ranked_bars

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
LONGEST_PERIOD = 366  # days; a longer one is refused (its chart would be unreadable)
PAGE_ROWS = 50  # rows a long table shows on the page; its CSV has them all
TOPICS_SHOWN = 20  # content gap topics listed on the page (the CSV has all)
QUESTIONS_SHOWN = 5  # of each topic's questions, in view (the others behind "more")
CHART_ROWS = 10  # bars of a ranked chart


# --- Filters ----------------------------------------------------------------------------

class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(choices=[(n, n) for n in PRESETS], coerce=int,
                                  required=False)
    start = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=gettext_lazy("To"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("The period ends before it starts."), code="order")
        if start and end and (end - start).days >= LONGEST_PERIOD:
            raise forms.ValidationError(
                _("Choose a period of at most %(days)s days.") % {"days": LONGEST_PERIOD},
                code="too_long")
        return data

    def period(self) -> reports.Period:
        """From and to when given (either alone: a DEFAULT_DAYS-day period from or to
        it), else the preset's last days, else the last DEFAULT_DAYS days."""
        data = self.cleaned_data if self.is_valid() else {}
        start, end = data.get("start"), data.get("end")
        if start or end:
            span = timedelta(days=DEFAULT_DAYS - 1)
            return reports.Period(start or end - span, end or start + span)
        return reports.Period.last(data.get("days") or DEFAULT_DAYS)


@dataclass
class Filters:
    """What the page reports on: the chosen knowledge base (None: all the person may
    edit), the period, and the query string that keeps them across links."""

    knowledge_bases: list[KnowledgeBase]
    chosen: KnowledgeBase | None
    form: PeriodForm
    period: reports.Period
    query: dict = field(default_factory=dict)
    everything: bool = False  # an admin's "all": every knowledge base, deleted ones too

    def scope(self) -> reports.Scope:
        if self.everything:
            return reports.Scope.of(None, self.period)
        return reports.Scope.of([self.chosen] if self.chosen else self.knowledge_bases,
                                self.period)

    def link(self, **extra: str) -> str:
        return urlencode({**self.query, **extra})

    def preset_links(self) -> list[tuple[int, str, bool]]:
        """(days, query, current) of each preset: the last N days, this knowledge base."""
        base = {"kb": self.chosen.slug} if self.chosen else {}
        today = timezone.localdate()
        return [(days, urlencode({**base, "days": days}),
                 self.period == reports.Period.last(days, today=today)) for days in PRESETS]


def _filters(request: HttpRequest) -> Filters:
    """The knowledge base and period asked for. Raises Http404 for a knowledge base the
    person may not edit (or that does not exist)."""
    slug = request.GET.get("kb", "")
    chosen = editable_or_404(request, slug) if slug else None
    allowed = list(editable_knowledge_bases(request.user).order_by("name"))
    form = PeriodForm(request.GET)
    period = form.period()
    if form.is_valid():  # else it stays bound, to show its errors beside what was typed
        # The form shows the dates reported on (a preset's too): changes start from them.
        form = PeriodForm(initial={"start": period.start, "end": period.end})
    query = ({"kb": slug} if slug else {}) | {"start": period.start.isoformat(),
                                              "end": period.end.isoformat()}
    return Filters(allowed, chosen, form, period, query,
                   everything=chosen is None and is_admin(request.user))


# --- Tables -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text, number, percent, day, time, rating, list


@dataclass
class Table:
    """Rows of raw values (dates, numbers, text), shown formatted for the language and
    written to the CSV as they are. `rows` may be the first PAGE_ROWS of `total`."""

    name: str  # the CSV's ?table=
    caption: str
    columns: list[Column]
    rows: list[tuple]
    total: int | None = None
    wide: bool = False  # long text: the page's full width, not a chart's

    @property
    def cut_note(self) -> str:
        """Said under a table that shows only some of its rows."""
        if self.total is None or self.total <= len(self.rows):
            return ""
        return _("The first %(shown)s of %(total)s rows are shown; the CSV has them all.") % {
            "shown": number(len(self.rows)), "total": number(self.total)}

    def shown(self) -> list[tuple[tuple[str, str], list[tuple[str, str]]]]:
        """Each row for the page: its first cell (the row's header) and the others, each
        as (class, text), formatted for the language."""
        cells = [[(_CELL_CLASS.get(column.kind, ""), _shown(column.kind, value))
                  for column, value in zip(self.columns, row, strict=True)] for row in self.rows]
        return [(row[0], row[1:]) for row in cells]

    def headers(self) -> list[tuple[str, str]]:
        return [(_CELL_CLASS.get(column.kind, ""), column.label) for column in self.columns]


_CELL_CLASS = {"number": "number", "percent": "number", "day": "nowrap", "time": "nowrap",
               "rating": "nowrap"}


def _shown(kind: str, value: object) -> str:
    if value is None or value == "":
        return "–"
    if kind == "number":
        return number(value)
    if kind == "percent":
        return f"{number(round(value))}%" if value is not None else "–"
    if kind == "day":
        return long_day(value)
    if kind == "time":
        return date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if kind == "rating":
        return _rating(value)
    if kind == "list":
        return ", ".join(value)
    return str(value)


def _rating(value: str) -> str:
    return _("Helpful") if value == Rating.UP else _("Not helpful")


def _csv_value(kind: str, value: object) -> object:
    """A cell as a spreadsheet should read it: ISO dates, plain numbers, and text that
    cannot start a formula (OWASP's CSV injection advice: a leading ' disarms = + - @)."""
    if value is None:
        return ""
    if kind == "time":
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if kind == "day":
        return value.isoformat()
    if kind == "percent":
        return round(value, 1)
    if kind == "rating":
        return value
    text = ", ".join(value) if kind == "list" else value
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


@dataclass
class Section:
    heading: str
    table: Table
    chart: SafeString | str = ""
    intro: str = ""
    # The content gaps page lists its biggest topics instead of the table's rows.
    topics: list[TopicView] = field(default_factory=list)
    hidden_topics: int = 0


# --- The reports ------------------------------------------------------------------------

Builder = Callable[[reports.Scope, QueryDict, "int | None"], list[Section]]


def _day_column() -> Column:
    return Column(_("Day"), "day")


def _questions(scope: reports.Scope, params: QueryDict, limit: int | None) -> list[Section]:
    days = reports.questions_per_day(scope)
    table = Table("days", _("Questions per day"), [_day_column(), Column(_("Questions"), "number")],
                  [(d.day, d.questions) for d in days])
    chart = day_bars([d.day for d in days], [Series(_("Questions"), [d.questions for d in days])],
                     title=_("Questions per day"), y_label=_("Questions"))
    return [Section(_("Questions per day"), table, chart)]


def _answers(scope: reports.Scope, params: QueryDict, limit: int | None) -> list[Section]:
    days = reports.questions_per_day(scope)
    table = Table("days", _("Answered and not found, per day"),
                  [_day_column(), Column(_("Answered"), "number"),
                   Column(pgettext("report", "Not found"), "number"),
                   Column(_("Not found (%)"), "percent"),
                   Column(pgettext("report", "Failed"), "number")],
                  [(d.day, d.answered, d.not_found,
                    100 * d.not_found / d.questions if d.questions else None, d.failed)
                   for d in days])
    chart = day_bars([d.day for d in days],
                     [Series(_("Answered"), [d.answered for d in days]),
                      Series(pgettext("report", "Not found"), [d.not_found for d in days]),
                      Series(pgettext("report", "Failed"), [d.failed for d in days])],
                     title=_("Answered and not found, per day"), y_label=_("Questions"))
    return [Section(_("Answered and not found"), table, chart,
                    _("Not found: the documents did not answer the question, and Citewise "
                      "said so. The content gaps report groups these questions.") + " " +
                    _("Failed: the answer service failed before the answer was complete "
                      "(the operations guide lists why)."))]


def _feedback(scope: reports.Scope, params: QueryDict, limit: int | None) -> list[Section]:
    days = reports.feedback_per_day(scope)
    table = Table("days", _("Feedback per day"),
                  [_day_column(), Column(_("Helpful"), "number"),
                   Column(_("Not helpful"), "number")],
                  [(d.day, d.up, d.down) for d in days])
    chart = day_bars([d.day for d in days], [Series(_("Helpful"), [d.up for d in days]),
                                             Series(_("Not helpful"), [d.down for d in days])],
                     title=_("Feedback per day"), y_label=_("Answers rated"))
    total, comments = reports.feedback_comments(scope, limit=limit)
    listed = Table("comments", _("Comments"),
                   [Column(_("Given"), "time"), Column(_("Rating"), "rating"),
                    Column(_("Comment")), Column(_("Question")), Column(_("Answer")),
                    Column(_("User"))],
                   [(c.given_at, c.rating, c.comment, c.question, _excerpt(c.answer), c.user)
                    for c in comments], total, wide=True)
    return [Section(_("Feedback per day"), table, chart),
            Section(_("Comments"), listed, intro=_(
                "What people wrote with their rating, the most recent first."))]


def _gaps(scope: reports.Scope, params: QueryDict, limit: int | None) -> list[Section]:
    gaps = reports.content_gaps(scope)
    names = [_topic_name(topic) for topic in gaps.topics]
    rows = [(n, names[n - 1], topic.count, q.question, q.asked_at, q.knowledge_bases, q.closest)
            for n, topic in enumerate(gaps.topics, start=1) for q in topic.questions]
    table = Table("topics", _("Unanswered questions by topic"),
                  [Column(_("Topic"), "number"), Column(_("Shared words")),
                   Column(_("Questions in the topic"), "number"), Column(_("Question")),
                   Column(_("Asked"), "time"), Column(_("Knowledge bases"), "list"),
                   Column(_("Closest documents"), "list")], rows, total=len(rows))
    chart = ranked_bars(names[:CHART_ROWS], [t.count for t in gaps.topics[:CHART_ROWS]],
                        title=_("The biggest topics of unanswered questions"),
                        x_label=_("Questions"))
    intro = ngettext("%(unanswered)s question was not found in this period.",
                     "%(unanswered)s questions were not found in this period.",
                     gaps.unanswered) % {"unanswered": number(gaps.unanswered)}
    if gaps.unanswered > gaps.grouped:
        intro += " " + _("The most recent %(grouped)s are grouped here.") % {
            "grouped": number(gaps.grouped)}
    shown = [TopicView(name, topic) for name, topic in
             zip(names[:TOPICS_SHOWN], gaps.topics[:TOPICS_SHOWN], strict=True)]
    return [Section(_("Content gaps"), table, chart, intro, topics=shown,
                    hidden_topics=max(0, len(gaps.topics) - TOPICS_SHOWN))]


@dataclass
class TopicView:
    """A topic as the page lists it: its first questions in view, the others behind a
    disclosure, and the documents that most often came closest."""

    name: str
    topic: reports.Topic

    @property
    def first(self) -> list[reports.GapQuestion]:
        return self.topic.questions[:QUESTIONS_SHOWN]

    @property
    def more(self) -> list[reports.GapQuestion]:
        return self.topic.questions[QUESTIONS_SHOWN:]

    @property
    def closest(self) -> list[str]:
        counts = Counter(title for q in self.topic.questions for title in q.closest)
        return [title for title, _count in counts.most_common(3)]


def _topic_name(topic: reports.Topic) -> str:
    return " · ".join(topic.terms) or _excerpt(topic.questions[0].question, 40)


def _documents(scope: reports.Scope, params: QueryDict, limit: int | None) -> list[Section]:
    found = reports.documents_report(scope, limit=limit)
    cited = Table("cited", _("Most cited documents"),
                  [Column(_("Document")), Column(_("Knowledge base")),
                   Column(_("Citations"), "number"), Column(_("Answers citing it"), "number")],
                  [(d.title, d.knowledge_base, d.citations, d.answers) for d in found.cited],
                  found.cited_count)
    cited_chart = ranked_bars([d.title for d in found.cited[:CHART_ROWS]],
                              [d.citations for d in found.cited[:CHART_ROWS]],
                              title=_("Most cited documents"), x_label=_("Citations"))
    per_kb = found.uncited_per_knowledge_base
    total = sum(n for _name, n in per_kb)
    uncited = Table("uncited", _("Documents never cited"),
                    [Column(_("Document")), Column(_("Knowledge base")),
                     Column(_("Indexed at"), "time")],
                    [(d.title, d.knowledge_base, d.indexed_at) for d in found.uncited], total)
    uncited_chart = ranked_bars([name for name, _n in per_kb[:CHART_ROWS]],
                                [n for _name, n in per_kb[:CHART_ROWS]],
                                title=_("Documents never cited, per knowledge base"),
                                x_label=_("Documents"))
    return [Section(_("Most cited documents"), cited, cited_chart),
            Section(_("Documents never cited"), uncited, uncited_chart, _(
                "Indexed documents that no answer in this period cited: %(count)s.")
                % {"count": number(total)})]


def _usage(scope: reports.Scope, params: QueryDict, limit: int | None) -> list[Section]:
    by = _usage_group(params)
    usage = reports.token_usage(scope, by)
    group_label = dict(_usage_groups())[by]
    series = [Series(_group_name(row, by), values)
              for row, values in zip(usage.top, usage.per_day, strict=True)]
    if usage.other_per_day is not None:
        series.append(Series(_("Others"), usage.other_per_day, tone=5))
    chart = format_html("{}{}", day_bars(
        usage.days, series, title=_("Tokens per day by %(group)s") % {"group": group_label},
        y_label=_("Tokens")), ranked_bars(
        [_group_name(row, by) for row in usage.rows[:CHART_ROWS]],
        [row.total_tokens for row in usage.rows[:CHART_ROWS]],
        title=_("Most tokens by %(group)s") % {"group": group_label}, x_label=_("Tokens")))
    rows = usage.rows if limit is None else usage.rows[:limit]
    table = Table("usage", _("Token usage by %(group)s") % {"group": group_label},
                  [Column(group_label.capitalize()), Column(_("Answers"), "number"),
                   Column(_("Prompt tokens"), "number"), Column(_("Completion tokens"), "number"),
                   Column(_("Total tokens"), "number")],
                  [(_group_name(r, by), r.answers, r.prompt_tokens, r.completion_tokens,
                    r.total_tokens) for r in rows], len(usage.rows))
    intro = _("Tokens the answers used: the prompt (question, passages, instructions) and "
              "the completion (the answer), a follow-up's rewriting included.")
    if by == "knowledge_base":
        intro += " " + _("A question asked of several knowledge bases counts for each.")
    return [Section(_("Token usage"), table, chart, intro)]


def _usage_groups() -> list[tuple[str, str]]:
    return [("user", _("user")), ("knowledge_base", _("knowledge base")),
            ("api_key", _("API key"))]


def _usage_group(params: QueryDict) -> str:
    by = params.get("by") or "user"
    if by not in reports.USAGE_GROUPS:
        raise Http404("No such grouping")
    return by


def _group_name(row: reports.UsageRow, by: str) -> str:
    if row.label:
        return row.label
    if by == "api_key":
        return _("No API key (web chat)")
    return _("(nobody)")


def _excerpt(text: str, length: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    build: Builder


def report_list() -> list[Report]:
    return [Report("questions", _("Questions"), _questions),
            Report("answers", _("Answered and not found"), _answers),
            Report("feedback", _("Feedback"), _feedback),
            Report("gaps", _("Content gaps"), _gaps),
            Report("documents", _("Documents"), _documents),
            Report("usage", _("Token usage"), _usage)]


def _report(slug: str) -> Report:
    found = next((report for report in report_list() if report.slug == slug), None)
    if found is None:
        raise Http404("No such report")
    return found


# --- Views ------------------------------------------------------------------------------

@console_view
def report_page(request: HttpRequest, report: str = "questions") -> HttpResponse:
    chosen = _report(report)
    filters = _filters(request)
    sections = chosen.build(filters.scope(), request.GET, PAGE_ROWS)
    for section in sections:
        if section.table.total is None and len(section.table.rows) > PAGE_ROWS:
            section.table.total = len(section.table.rows)
            section.table.rows = section.table.rows[:PAGE_ROWS]
    extra = {"by": request.GET["by"]} if report == "usage" and request.GET.get("by") else {}
    return render(request, "frontend/console/reports/report.html", {
        "report": chosen, "reports": report_list(), "filters": filters, "sections": sections,
        "csv_query": filters.link(**extra), "usage_groups": _usage_groups(),
        "period_text": _("%(start)s to %(end)s") % {"start": long_day(filters.period.start),
                                                    "end": long_day(filters.period.end)}})


@console_view
def report_csv(request: HttpRequest, report: str) -> HttpResponse:
    """The table `?table=` of the report, all its rows, as CSV for Excel: UTF-8 with a
    byte order mark (without it Excel reads Korean as mojibake), a header row."""
    chosen = _report(report)
    filters = _filters(request)
    wanted = request.GET.get("table", "")
    table = next((s.table for s in chosen.build(filters.scope(), request.GET, None)
                  if s.table.name == wanted), None)
    if table is None:
        raise Http404("No such table")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="citewise-{report}-{wanted}-{filters.period.start:%Y%m%d}-'
        f'{filters.period.end:%Y%m%d}.csv"')
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([column.label for column in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(c.kind, v) for c, v in zip(table.columns, row, strict=True)])
    return response


