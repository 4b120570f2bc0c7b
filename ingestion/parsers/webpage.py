"""HTML: the page's main content only. Navigation, headers, footers, sidebars, scripts,
forms and cookie banners are dropped, because a chatbot that cites a site's menu is
worse than useless; h1-h6 become the heading path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import HeadingStack, table_blocks
from textproc.encoding import decode_bytes
from textproc.normalize import clean_inline, normalize_text

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

# <header> and <footer> are dropped only outside <article>/<main>: inside, a header holds
# the article's own title.
_DROP_TAGS = ["script", "style", "noscript", "template", "nav", "aside",
              "form", "button", "select", "iframe", "svg", "canvas", "object", "embed", "menu",
              "dialog"]
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu",
               "dialog", "alert"}
_BOILERPLATE = re.compile(
    r"(^|[-_ ])(nav|navbar|menu|breadcrumbs?|sidebar|site-footer|site-header|masthead|"
    r"cookie|consent|banner|advert|ads?|promo|share|social|related|comments?|subscribe|newsletter|popup|"
    r"modal|skip-link|toc)($|[-_ ])",
    re.IGNORECASE,
)
# Documentation generators (Sphinx, MkDocs, GitHub) end each heading with a permalink
# anchor whose whole text is one symbol; it is not part of the heading.
_PERMALINK_SYMBOLS = {"¶", "#", "§", "🔗", "\uf0c1"}
_BLOCK_TAGS = {"p", "li", "pre", "blockquote", "dt", "dd", "figcaption", "caption",
               "address", "td", "th"}
_HEADINGS = {f"h{n}" for n in range(1, 7)}


def _is_boilerplate(tag: Tag) -> bool:
    # Inside a heading everything is the heading's text: Sphinx wraps it in
    # <a class="toc-backref">, which the class-name rule would otherwise take for a
    # table of contents and drop, leaving headings empty.
    if tag.find_parent(list(_HEADINGS)) is not None:
        return False
    if tag.get("role", "").lower() in _DROP_ROLES or tag.get("aria-hidden") == "true":
        return True
    if tag.has_attr("hidden"):
        return True
    names = " ".join([tag.get("id", ""), *tag.get("class", [])])
    return bool(names.strip()) and bool(_BOILERPLATE.search(names))


def _text(tag: Tag) -> str:
    """Text of an element: inline tags join without spaces ("<b>만드세요</b>." stays
    "만드세요."), while line breaks and nested block elements separate words."""
    for br in tag.find_all("br"):
        br.replace_with("\n")
    for inner in tag.find_all(["p", "div", "li", "td", "th", "tr", "dt", "dd"]):
        inner.insert_after(" ")
    return tag.get_text()


def _drop_permalinks(root: Tag) -> None:
    for heading in root.find_all(list(_HEADINGS)):
        for anchor in heading.find_all("a"):
            if (anchor.get("href", "").startswith("#")
                    and anchor.get_text().strip() in _PERMALINK_SYMBOLS):
                anchor.decompose()


def _main_root(soup: BeautifulSoup) -> Tag:
    """<main>, else the single <article>, else the element with role=main, else <body>."""
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    if main is not None:
        return main
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


def parse_html(path: Path) -> ParsedDocument:
    from bs4 import BeautifulSoup, NavigableString, Tag

    # lxml's HTML parser does not expand entities declared in a DTD, so a crafted
    # page cannot blow up memory the way an XML "billion laughs" document can.
    soup = BeautifulSoup(decode_bytes(path.read_bytes()), "lxml")
    title_tag = soup.find("title")
    title = clean_inline(title_tag.get_text()) if title_tag else None
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(["header", "footer"]):
        if not tag.decomposed and tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    root = _main_root(soup)
    _drop_permalinks(root)
    for tag in list(root.find_all(name=True)):
        if not tag.decomposed and _is_boilerplate(tag):
            tag.decompose()

    headings = HeadingStack()
    blocks: list[Block] = []
    loose: list[str] = []

    def flush_loose() -> None:
        text = clean_inline("".join(loose))
        if text:
            blocks.append(Block(text, heading_path=headings.path))
        loose.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString and child.strip():
                    loose.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS:
                flush_loose()
                text = clean_inline(_text(child))
                if text:
                    path_ = headings.push(int(name[1]), text)
                    blocks.append(Block(text, heading_path=path_, kind="heading"))
            elif name == "table":
                flush_loose()
                rows = [[_text(cell) for cell in tr.find_all(["th", "td"])]
                        for tr in child.find_all("tr")]
                blocks.extend(table_blocks(rows, heading_path=headings.path))
            elif name == "pre":
                flush_loose()
                text = normalize_text(child.get_text()).strip("\n")
                if text:
                    blocks.append(Block(text, heading_path=headings.path, kind="code"))
            elif name == "br":
                loose.append(" ")
            elif name in _BLOCK_TAGS and not child.find(list(_HEADINGS | {"table", "p", "li"})):
                flush_loose()
                text = clean_inline(_text(child))
                if text:
                    kind = "list" if name in {"li", "dt", "dd"} else "paragraph"
                    blocks.append(Block(text, heading_path=headings.path, kind=kind))
            elif name in {"span", "a", "b", "strong", "i", "em", "code", "small", "sup", "sub",
                          "abbr", "mark", "u", "s", "time", "label", "q", "cite"}:
                loose.append(_text(child))
            else:
                flush_loose()
                walk(child)
                flush_loose()

    walk(root)
    flush_loose()
    if title is None:
        title = next((b.text for b in blocks if b.kind == "heading"), None)
    return ParsedDocument(blocks=blocks, detected_type="html", page_count=None, title=title)
