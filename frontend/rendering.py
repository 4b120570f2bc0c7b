"""Answers as safe HTML: Markdown rendered on the server, sanitised, then citation chips.

An answer's text comes from the model, which read the documents, so anything in it may be
hostile. Two maintained libraries do the dangerous parts: markdown-it-py renders (raw HTML
off: a tag in the text stays text) and nh3 (ammonia) keeps only an allow-list of tags,
attributes and URL schemes. Citation chips are added after sanitising, into text nodes
only, from our own data, each value escaped by format_html; the CSP is the last line.

    html = citation_chips(render_answer(text), {1: {"url": ..., "title": ...}})
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from html import escape
from typing import Any

import lxml.html
import nh3
from django.utils.html import format_html
from django.utils.translation import gettext
from markdown_it import MarkdownIt

from citewise.knowledge.places import citation_place, headings_below_title, names_sheet

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
})
# No style (the CSP refuses inline styles anyway), no class, no id, no event handler.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
LINK_REL = "noopener noreferrer nofollow"

# A citation marker: [1] or [1, 2]. Numbers the answer does not cite stay plain text.
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# Markers inside these are code or already a link: left as they are.
NO_CHIPS_INSIDE = frozenset({"code", "pre", "a"})


def _image_as_alt_text(renderer, tokens, idx, options, env) -> str:
    """An image becomes its alt text: an answer must not make the browser load anything."""
    return escape(renderer.renderInlineAsText(tokens[idx].children or [], options, env))


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    # Without reference definitions, "[1]: https://elsewhere" in a document cannot turn
    # the answer's [1] markers into links away from their sources.
    md.disable("reference")
    md.add_render_rule("image", _image_as_alt_text)
    return md


_MARKDOWN = _markdown()
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES, link_rel=LINK_REL,
    url_schemes={"http", "https", "mailto"}, url_relative="deny",
)


def render_answer(markdown_text: str) -> str:
    """The answer's Markdown as HTML that is safe to put in a page as it is."""
    return _CLEANER.clean(_MARKDOWN.render(markdown_text))


def citation_chips(html: str, citations: Mapping[int, Mapping[str, Any]]) -> str:
    """Sanitised answer HTML with each [n] marker in its text made a link to source n.

    citations[n] holds url, title, page, heading_path (list or text), snippet and
    supported (False: the verifier found the passage does not support the sentence;
    an optional reason says why). Markers inside code, pre or links stay text.
    """
    if not citations or not MARKER.search(html):
        return html
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in list(root.iter()):  # a copy: chips inserted below are not visited
        if not _inside_no_chip_zone(element):
            _chip_text(element, citations)
        if element is not root and not _inside_no_chip_zone(element.getparent()):
            _chip_tail(element, citations)
    return escape(root.text or "", quote=False) + "".join(
        lxml.html.tostring(child, encoding="unicode") for child in root)


def _inside_no_chip_zone(element) -> bool:
    return any(node.tag in NO_CHIPS_INSIDE for node in (element, *element.iterancestors()))


def _chip_text(element, citations) -> None:
    if not isinstance(element.tag, str) or not element.text:
        return
    leading, chips = _split(element.text, citations)
    if chips:
        element.text = leading
        for position, chip in enumerate(chips):
            element.insert(position, chip)


def _chip_tail(element, citations) -> None:
    if not element.tail:
        return
    leading, chips = _split(element.tail, citations)
    if chips:
        element.tail = leading
        for chip in reversed(chips):
            element.addnext(chip)  # addnext moves the tail along with the new sibling


def _split(text: str, citations) -> tuple[str, list]:
    """The text before the first chip, and the chips, each carrying the text after it."""
    leading, chips = "", []
    for piece in _pieces(text, citations):
        if isinstance(piece, str):
            if chips:
                chips[-1].tail = (chips[-1].tail or "") + piece
            else:
                leading += piece
        else:
            chips.append(piece)
    return leading, chips


def _pieces(text: str, citations) -> Iterator:
    position = 0
    for match in MARKER.finditer(text):
        numbers = [int(number) for number in match.group(1).split(",")]
        if not any(number in citations for number in numbers):
            continue
        yield text[position:match.start()]
        for number in numbers:
            if number in citations:
                yield lxml.html.fragment_fromstring(chip_html(number, citations[number]))
            else:
                yield f"[{number}]"
        position = match.end()
    yield text[position:]


def chip_html(number: int, citation: Mapping[str, Any]) -> str:
    """One citation chip: a link to the passage with its preview, shown on hover and on
    keyboard focus (CSS). Every value is escaped; nothing here comes from raw HTML."""
    title = str(citation.get("title") or "")
    supported = citation.get("supported", True) is not False
    warning = "" if supported else str(
        citation.get("reason") or gettext("The cited passage does not support this sentence."))
    preview = format_html(
        '<span class="cite-preview" role="tooltip">{}{}{}{}</span>',
        _part('<span class="cite-title">{}</span>', title),
        _part('<span class="cite-where">{}</span>', _where(citation)),
        _part('<q class="cite-snippet">{}</q>', citation.get("snippet")),
        _part('<span class="cite-warning">{}</span>', warning))
    return format_html(
        '<a class="{}" href="{}" data-n="{}" aria-label="{}"{}>[{}]{}</a>',
        "cite" if supported else "cite unsupported", _safe_url(citation.get("url")), number,
        f"[{number}] {title}",
        format_html(' title="{}" aria-description="{}"', warning, warning) if warning else "",
        number, preview)


def _part(template: str, value: object) -> str:
    return format_html(template, value) if value else ""


def _safe_url(url: object) -> str:
    """Citation URLs are ours (a path) or the original's web address; anything else,
    such as a javascript: URL, becomes a link to nowhere."""
    url = str(url or "")
    if (url.startswith("/") and not url.startswith("//")) or url.startswith(("https://", "http://")):
        return url
    return "#"


def _where(citation: Mapping[str, Any]) -> str:
    """"Prices, row 12 · Section › Subsection": the citation's place (knowledge.places)
    and the headings it does not already name."""
    place = citation_place(citation)
    parts = [place] if place else []
    heading_path = citation.get("heading_path") or ()
    if isinstance(heading_path, str):
        heading_path = (heading_path,)
    headings = [str(heading) for heading in heading_path]
    if names_sheet(str(citation.get("document_type") or ""), citation.get("line")):
        headings = headings[1:]
    # The title is shown just above.
    headings = headings_below_title(headings, str(citation.get("title") or ""))
    if headings:
        parts.append(" › ".join(headings))
    return " · ".join(parts)
