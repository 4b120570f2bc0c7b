"""Where in its document a passage or a quoted sentence is, in a person's words: "page 3"
of a PDF, "slide 3" of a presentation, "Prices, row 12" of a spreadsheet, "line 40" of a
text, Markdown or CSV file. Every door (chat, source viewer, REST, OpenAI footnotes,
MCP, the console and the `ask` command) names a place with these functions, in the
language active when they are called, and which headings to show beside a title."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext

# Formats whose `page` numbers slides, and whose `line` numbers the rows of a sheet (its
# name is the first heading of the heading path: ingestion.parsers.spreadsheet).
SLIDE_TYPES = frozenset({"pptx"})
SHEET_TYPES = frozenset({"xlsx"})


def place_label(document_type: str, *, page: int | None, line: int | None,
                heading_path: Sequence[str] = ()) -> str:
    """"Prices, row 12", "line 40", "slide 3", "page 3", or "" when the format has
    neither pages nor lines. `document_type` is Document.detected_type ("" when unknown:
    a page is then called a page)."""
    if line and document_type in SHEET_TYPES:
        if heading_path:
            return gettext("%(sheet)s, row %(row)s") % {"sheet": heading_path[0], "row": line}
        return gettext("row %(row)s") % {"row": line}
    if line:
        return gettext("line %(line)s") % {"line": line}
    if page and document_type in SLIDE_TYPES:
        return gettext("slide %(slide)s") % {"slide": page}
    if page:
        return gettext("page %(page)s") % {"page": page}
    return ""


def names_sheet(document_type: str, line: int | None) -> bool:
    """Whether place_label already names the first heading (the sheet), so that a place
    shown beside the heading path need not repeat it."""
    return bool(line) and document_type in SHEET_TYPES


def citation_place(citation: Mapping[str, Any]) -> str:
    """place_label of a citation or passage as the doors hold it: a mapping with
    document_type, page, line and heading_path (each may be missing)."""
    return place_label(str(citation.get("document_type") or ""), page=citation.get("page"),
                       line=citation.get("line"),
                       heading_path=citation.get("heading_path") or ())


def headings_below_title(heading_path: Sequence[str], title: str) -> list[str]:
    """The heading path as shown next to the document's title: without its first heading
    when that is the title again (a Markdown or HTML document's top heading usually is,
    and the parsers keep it in the path, where it helps retrieval)."""
    headings = [str(heading) for heading in heading_path]
    if headings and _same_words(headings[0], title):
        return headings[1:]
    return headings


def _same_words(heading: str, title: str) -> bool:
    return " ".join(heading.split()).casefold() == " ".join(title.split()).casefold()
