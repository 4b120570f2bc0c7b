"""Charts drawn on the server as inline SVG: no script, no library, nothing the page's
Content-Security-Policy refuses (colours are classes styled in reports.css, never style
attributes).

Each chart is an accessible image: <svg role="img"> named by its <title> and described
by its <desc> (totals and the peak, in words), with labelled axes; each bar carries a
<title> of its own (a tooltip with its day and value). The table next to every chart
holds the same numbers for reading and copying.

Numbers and dates follow the active language (django.utils.formats). Geometry is in
viewBox units; the SVG scales to its container's width (reports.css keeps it readable on
narrow screens by letting it scroll sideways).
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

WIDTH, HEIGHT = 720, 300
RIGHT, TOP, BOTTOM = 16, 16, 56  # room for tick labels and the axis title
DIGIT = 8  # width of a digit or comma at the charts' font size, in viewBox units
MAX_DAY_TICKS = 8
_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend and the bars' titles
    values: Sequence[int]
    tone: int | None = None  # colour class s0-s5 (default: its place); 5 is grey, "other"


def number(value: int) -> str:
    """An integer with the language's digit grouping (1,234)."""
    return number_format(value, force_grouping=True)


def short_day(day: date) -> str:
    """A day on an axis: "Mar 5" in English, "3/5" in Korean."""
    return date_format(day, pgettext("chart axis day (Django date format)", "M j"))


def long_day(day: date) -> str:
    return date_format(day, "DATE_FORMAT")


def day_bars(days: Sequence[date], series: Sequence[Series], *, title: str, y_label: str,
             ) -> SafeString:
    """Bars per day, stacked when there are several series (in the order given, the first
    at the bottom). Every series has one value per day."""
    totals = [sum(values) for values in zip(*(s.values for s in series), strict=True)]
    ceiling, ticks = _scale(max(totals, default=0))
    # Room on the left for the longest tick label and the rotated axis title.
    left = 36 + DIGIT * max(len(number(t)) for t in ticks)
    plot_w, plot_h = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bars = []
    for n, day in enumerate(days):
        base = 0
        for k, item in enumerate(series):
            value = item.values[n]
            if value:
                bars.append(_bar(left + n * slot + slot * 0.1, _y(base + value, ceiling),
                                 max(slot * 0.8, 1), plot_h * value / ceiling, _tone(k, item),
                                 f"{long_day(day)} · {item.name}: {number(value)}"))
            base += value
    every = math.ceil(len(days) / MAX_DAY_TICKS) or 1
    x_ticks = [(left + (n + 0.5) * slot, short_day(day))
               for n, day in enumerate(days) if n % every == 0]
    return _figure(title, _describe_days(days, series, totals), ticks, ceiling, bars,
                   x_ticks, left=left, x_label=_("Day"), y_label=y_label, series=series)


def ranked_bars(labels: Sequence[str], values: Sequence[int], *, title: str,
                x_label: str) -> SafeString:
    """Horizontal bars, one per label, in the order given (the biggest first, usually)."""
    height = TOP + 28 * len(labels) + BOTTOM
    ceiling, ticks = _scale(max(values, default=0))
    left, plot_w = 200, WIDTH - 200 - 72  # room after the longest bar for its value
    rows = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = TOP + 28 * n
        rows.append(format_html(
            '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>'
            '<rect class="bar s0" x="{}" y="{}" width="{}" height="20"><title>{}: {}</title></rect>'
            '<text class="value" x="{}" y="{}">{}</text>',
            left - 8, y + 15, _clip(label, 28), left, y + 2, _f(plot_w * value / ceiling),
            label, number(value), _f(left + plot_w * value / ceiling + 6), y + 16,
            number(value)))
    axis_y = height - BOTTOM
    grid = format_html_join("", '<line class="grid" x1="{0}" x2="{0}" y1="{1}" y2="{2}"/>'
                            '<text class="tick" x="{0}" y="{3}" text-anchor="middle">{4}</text>',
                            ((_f(left + plot_w * t / ceiling), TOP, axis_y, axis_y + 18,
                              number(t)) for t in ticks))
    desc = (_("%(label)s has the most: %(value)s.") % {"label": labels[0],
                                                       "value": number(values[0])}
            if labels else _("Nothing in this period."))
    body = format_html('{}{}<text class="axis-title" x="{}" y="{}" text-anchor="middle">{}</text>',
                       grid, _join(rows), _f(left + plot_w / 2), height - 12,
                       x_label)
    return _svg(title, desc, body, height=height)


def _figure(title: str, desc: str, ticks: list[int], ceiling: int, bars: list[SafeString],
            x_ticks: list[tuple[float, str]], *, left: int, x_label: str, y_label: str,
            series: Sequence[Series]) -> SafeString:
    axis_y = HEIGHT - BOTTOM
    grid = format_html_join(
        "", '<line class="grid" x1="{0}" x2="{1}" y1="{2}" y2="{2}"/>'
            '<text class="tick" x="{3}" y="{4}" text-anchor="end">{5}</text>',
        ((left, WIDTH - RIGHT, _f(_y(t, ceiling)), left - 6, _f(_y(t, ceiling) + 4), number(t))
         for t in ticks))
    x_axis = format_html_join(
        "", '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
        ((_f(x), axis_y + 18, label) for x, label in x_ticks))
    body = format_html(
        '{}<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>{}{}'
        '<text class="axis-title" x="{}" y="{}" text-anchor="middle">{}</text>'
        '<text class="axis-title" transform="rotate(-90)" x="{}" y="16" '
        'text-anchor="middle">{}</text>',
        grid, left, WIDTH - RIGHT, axis_y, axis_y, _join(bars), x_axis,
        _f(left + (WIDTH - left - RIGHT) / 2), HEIGHT - 12, x_label,
        _f(-(TOP + (HEIGHT - TOP - BOTTOM) / 2)), y_label)
    legend = format_html_join(
        "", '<li><span class="swatch s{}" aria-hidden="true"></span>{}</li>',
        ((_tone(k, item), item.name) for k, item in enumerate(series))) if len(series) > 1 else ""
    return format_html('{}{}', _svg(title, desc, body, height=HEIGHT),
                       format_html('<ul class="legend">{}</ul>', legend) if legend else "")


def _svg(title: str, desc: str, body: SafeString, *, height: int) -> SafeString:
    n = next(_ids)
    return format_html(
        # The frame scrolls sideways on a narrow screen: focusable, so keys scroll it too.
        '<div class="chart-frame" role="region" tabindex="0" aria-label="{}">'
        '<svg class="chart" role="img" viewBox="0 0 {} {}" '
        'width="{}" height="{}" aria-labelledby="chart-{}-title chart-{}-desc" '
        'xmlns="http://www.w3.org/2000/svg"><title id="chart-{}-title">{}</title>'
        '<desc id="chart-{}-desc">{}</desc>{}</svg></div>',
        title, WIDTH, height, WIDTH, height, n, n, n, title, n, desc, body)


def _tone(k: int, series: Series) -> int:
    return k if series.tone is None else series.tone


def _bar(x: float, y: float, width: float, height: float, k: int, label: str) -> SafeString:
    return format_html('<rect class="bar s{}" x="{}" y="{}" width="{}" height="{}">'
                       '<title>{}</title></rect>', k, _f(x), _f(y), _f(width), _f(height),
                       label)


def _describe_days(days: Sequence[date], series: Sequence[Series], totals: list[int]) -> str:
    """In words: each series' total over the period, and the busiest day."""
    if not days:
        return ""
    parts = [_("From %(start)s to %(end)s.") % {"start": long_day(days[0]),
                                                 "end": long_day(days[-1])}]
    parts += [_("%(name)s: %(total)s in all.") % {"name": s.name, "total": number(sum(s.values))}
              for s in series]
    if any(totals):
        peak = max(range(len(days)), key=lambda n: (totals[n], -n))
        parts.append(_("The most on %(day)s: %(value)s.") % {"day": long_day(days[peak]),
                                                             "value": number(totals[peak])})
    return " ".join(parts)


def _scale(biggest: int) -> tuple[int, list[int]]:
    """A round top for the axis at or above `biggest` (at least 1) and its ticks, 0 to
    the top in steps of 1, 2 or 5 times a power of ten (at most six ticks)."""
    biggest = max(biggest, 1)
    magnitude = 10 ** max(0, math.floor(math.log10(biggest / 5))) if biggest >= 5 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if biggest / (m * magnitude) <= 5)
    ceiling = math.ceil(biggest / step) * step
    return ceiling, list(range(0, ceiling + 1, step))


def _y(value: float, ceiling: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / ceiling)


def _join(pieces: list[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((piece,) for piece in pieces))


def _f(value: float) -> str:
    return f"{value:.1f}"


def _clip(text: str, width: int) -> str:
    """`text` cut to about `width` Latin letters' room; Hangul and other wide letters
    take two."""
    used = 0
    for n, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used > width:
            return text[:n - 1] + "…"
    return text
