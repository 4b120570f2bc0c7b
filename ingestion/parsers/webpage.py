"""HTML: the page's main content only, as a person reads it. Navigation is dropped by
its structure, never by a word in an id or class alone: semantic tags and ARIA roles,
bars of prev/next/up links, lists and tables made of links (tables of contents, menus,
tabs), and hidden elements. Headings h1-h6 become the heading path; lists, tables and
code are kept. A chatbot that cites a site's menu is worse than useless, and one that
drops a section called "Employee share plan" is wrong.

Linear in the input: an element nesting deeper than the HTML parser's limit fails the
document fast with TooLarge instead of costing minutes (see `_check_depth`)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.blocks import Block, ParsedDocument
from ingestion.errors import TooLarge
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
# Words that name boilerplate in ids and classes. A word alone never drops an element
# (a section id comes from its heading: "employee-share-plan"); it must agree with the
# element's shape, see `_is_labelled_chrome`.
_BOILERPLATE = re.compile(
    r"(^|[-_ ])(nav|navbar|menu|breadcrumbs?|sidebar|site-footer|site-header|masthead|"
    r"cookie|consent|banner|advert|ads?|promo|share|social|related|comments?|subscribe|newsletter|popup|"
    r"modal|skip-link|toc)($|[-_ ])",
    re.IGNORECASE,
)
# Inline styles and <style> rules that hide an element from the reader: text nobody sees
# must never be quoted to them as the page's content.
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?![.\d]*[1-9])",
    re.IGNORECASE,
)
# Text too small to read is hidden as well: below these sizes per unit.
_FONT_SIZE = re.compile(r"font-size\s*:\s*(\d*\.?\d+)\s*(px|pt|r?em|%)?", re.IGNORECASE)
_SMALLEST_READABLE = {"px": 2.0, "pt": 2.0, "em": 0.1, "rem": 0.1, "%": 10.0, "": 0.001}
_HIDING_RULE = re.compile(r"([^{}]+)\{([^}]*)\}")
# A switch of alternatives that a script picks from when the page loads (LibreOffice
# help's OS switch: "Command" on a Mac, "Ctrl" elsewhere) ships every case hidden; the case
# marked default by its id or class is the one most readers see.
_DEFAULT_CASE = re.compile(r"default", re.IGNORECASE)
# Relations of a page to its neighbours in a generated manual (<link rel> in the head,
# rel= or accesskey= on the anchors of DocBook, Sphinx and MkDocs prev/next/up bars).
_PAGER_RELS = {"prev", "previous", "next", "up", "home", "start", "first", "last",
               "contents", "index", "top", "parent"}
_PAGER_ACCESSKEYS = {"p", "n", "u", "h"}
# A bar of pager links is short; anything longer holds content as well.
_PAGER_MAX_CHARS = 300
_PAGER_LABEL_CHARS = 20
# Share of an element's text that is link text from which a list or table is a menu or
# a table of contents rather than prose (readability and jusText use the same signal).
_LINK_LIST_DENSITY = 0.8
_CONTROLS = ["button", "input", "select", "textarea", "form"]
_CONTAINERS = {"html", "body", "main", "article"}
# Documentation generators (Sphinx, MkDocs, GitHub) end each heading with a permalink
# anchor whose whole text is one symbol; it is not part of the heading.
_PERMALINK_SYMBOLS = {"¶", "#", "§", "🔗", "\uf0c1"}
_BLOCK_TAGS = {"p", "li", "pre", "blockquote", "dt", "dd", "figcaption", "caption",
               "address", "td", "th"}
_LIST_TAGS = {"li", "dt", "dd"}
_INLINE_TAGS = {"span", "a", "b", "strong", "i", "em", "code", "small", "sup", "sub", "abbr",
                "mark", "u", "s", "time", "label", "q", "cite", "kbd", "var", "samp", "tt",
                "font"}
_HEADINGS = {f"h{n}" for n in range(1, 7)}


def _check_depth(markup: str) -> None:
    """Raise TooLarge when elements nest deeper than libxml2's limit (256 levels; real
    pages stay under 50). libxml2 stops at that depth in microseconds, while building
    and walking such a tree in Python takes minutes for a 2 MB file."""
    from lxml import etree

    # The text is decoded already: a <meta charset> must not make libxml2 decode again.
    parser = etree.HTMLParser(encoding="utf-8")
    etree.fromstring(markup.encode("utf-8", errors="replace"), parser)
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        raise TooLarge(
            "This HTML page nests its elements more than 256 levels deep, which no real "
            "page does; it cannot be read safely. Save the page again from a browser or "
            "export it as PDF, and upload that.")


def _gone(tag: Tag) -> bool:
    """Whether `tag` was removed with an ancestor. decompose() blanks the name; bs4's own
    `decomposed` property looks the attribute up as a child tag on live elements, a
    search of the whole subtree per call that made a 2 MB page take minutes."""
    return not tag.name


def _visible_text(tag: Tag) -> str:
    return "".join(tag.get_text().split())


def _link_text(tag: Tag) -> str:
    return "".join("".join(a.get_text().split()) for a in tag.find_all("a"))


def _link_density(tag: Tag) -> float:
    text = _visible_text(tag)
    return len(_link_text(tag)) / len(text) if text else 0.0


def _has_heading(tag: Tag) -> bool:
    return tag.name in _HEADINGS or tag.find(list(_HEADINGS)) is not None


def _hides(style: str) -> bool:
    """Whether CSS declarations hide their element or shrink its text below reading."""
    if _HIDDEN_STYLE.search(style):
        return True
    size = _FONT_SIZE.search(style)
    return bool(size) and float(size.group(1)) < _SMALLEST_READABLE[(size.group(2) or "").lower()]


def _hidden_classes(soup: BeautifulSoup) -> set[str]:
    """Class names the page's own <style> rules hide (".print-only { display: none }")."""
    hidden: set[str] = set()
    for style in soup.find_all("style"):
        for selectors, body in _HIDING_RULE.findall(style.get_text()):
            if not _hides(body):
                continue
            for selector in selectors.split(","):
                if re.fullmatch(r"\s*\.[\w-]+\s*", selector):
                    hidden.add(selector.strip()[1:])
    return hidden


def _is_hidden(tag: Tag, hidden_classes: set[str]) -> bool:
    if tag.has_attr("hidden") or tag.get("aria-hidden") == "true":
        return True
    if _hides(tag.get("style", "")):
        return True
    return bool(hidden_classes.intersection(tag.get("class", [])))


def _shown_by_script(tag: Tag) -> bool:
    """A hidden case of a script's switch that it shows by default: every element beside
    it is hidden too (no case shows without the script), their parent holds no text of
    its own, and its id or class names it the default."""
    from bs4 import NavigableString

    parent = tag.parent
    if parent is None or not tag.has_attr("hidden"):
        return False
    if not all(case.has_attr("hidden") for case in parent.find_all(name=True, recursive=False)):
        return False
    if any(isinstance(c, NavigableString) and c.strip() for c in parent.children):
        return False
    marks = [tag.get("id", ""), *tag.get_attribute_list("class")]
    return any(mark and _DEFAULT_CASE.match(mark) for mark in marks)


def _drop_chrome(soup: BeautifulSoup) -> None:
    """Remove what is not the page's text: scripts, forms, navigation landmarks (tags and
    ARIA roles), hidden elements, and site headers/footers outside the article."""
    hidden_classes = _hidden_classes(soup)
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(["header", "footer"]):
        if not _gone(tag) and tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    shown = [tag for tag in soup.find_all(hidden=True) if _shown_by_script(tag)]
    for tag in shown:
        del tag["hidden"]
    for tag in list(soup.find_all(name=True)):
        if _gone(tag):
            continue
        if ((tag.get("role", "").lower() in _DROP_ROLES and tag.name not in _HEADINGS)
                or _is_hidden(tag, hidden_classes)):
            tag.decompose()


def _pager_targets(soup: BeautifulSoup) -> set[str]:
    """hrefs of the page's prev/next/up/home neighbours, from <link rel> in the head."""
    targets = set()
    for link in soup.find_all("link", href=True):
        if _PAGER_RELS.intersection(rel.lower() for rel in link.get("rel", [])):
            targets.add(link["href"])
    return targets


def _is_pager_link(anchor: Tag, targets: set[str]) -> bool:
    """rel= or accesskey= say so; a link to a neighbour page says so only with a short
    label ("Prev", "Up"): prose cites the next chapter by its whole title."""
    rels = {rel.lower() for rel in anchor.get_attribute_list("rel") if rel}
    keys = {key.lower() for key in anchor.get_attribute_list("accesskey") if key}
    if rels & _PAGER_RELS or keys & _PAGER_ACCESSKEYS:
        return True
    return anchor.get("href") in targets and len(_visible_text(anchor)) <= _PAGER_LABEL_CHARS


def _pager_bar(anchor: Tag, root: Tag) -> Tag | None:
    """The largest element around a pager link that is still only a short bar without
    headings (DocBook's navheader/navfooter tables, Sphinx's and MkDocs' prev/next)."""
    bar = None
    node = anchor.parent
    while node is not None and node is not root:
        if _has_heading(node) or len(_visible_text(node)) > _PAGER_MAX_CHARS:
            break
        # A paragraph that is mostly words is prose citing a neighbour, not a bar.
        if node.name == "p" and _link_density(node) < 0.5:
            return None
        bar = node
        node = node.parent
    return bar


def _drop_pager_bars(root: Tag, targets: set[str]) -> None:
    for anchor in list(root.find_all("a")):
        if _gone(anchor) or not _is_pager_link(anchor, targets):
            continue
        bar = _pager_bar(anchor, root)
        if bar is not None:
            bar.decompose()


def _is_link_list(tag: Tag) -> bool:
    """A list or table that is (almost) all links: a table of contents, a menu, tabs,
    breadcrumbs. Links out of the site (http...) are kept: a list of references is
    content someone may ask about."""
    anchors = tag.find_all("a", href=True)
    if len(anchors) < 2 or _link_density(tag) < _LINK_LIST_DENSITY or _has_heading(tag):
        return False
    external = sum(a["href"].startswith(("http:", "https:", "mailto:")) for a in anchors)
    return external < len(anchors) / 2


def _caption_box(tag: Tag, root: Tag) -> Tag:
    """The element to drop for a link list: its parent when the list is all that parent
    says besides a short caption ("Table of Contents", MediaWiki's <h2>Contents</h2>)."""
    parent = tag.parent
    if parent is None or parent is root:
        return tag
    rest = len(_visible_text(parent)) - len(_visible_text(tag))
    return parent if rest <= 40 else tag


def _drop_link_lists(root: Tag) -> None:
    # A <div> of link-only paragraphs is a list too (LibreOffice's "관련 주제" box).
    for tag in list(root.find_all(["ul", "ol", "dl", "table", "div"])):
        if not _gone(tag) and _is_link_list(tag):
            _caption_box(tag, root).decompose()


def _is_labelled_chrome(tag: Tag) -> bool:
    """An id or class naming boilerplate ("cookie-banner", "share-buttons") agreed with
    by the shape: no heading, and mostly links or holding controls (a consent button, a
    newsletter form). Runs before the controls are removed."""
    if tag.name in _CONTAINERS or tag.get("role") == "main":
        return False
    names = " ".join([tag.get("id", ""), *tag.get("class", [])])
    if not names.strip() or not _BOILERPLATE.search(names) or _has_heading(tag):
        return False
    if tag.find_parent(list(_HEADINGS)) is not None:
        return False
    return _link_density(tag) >= 0.5 or tag.find(_CONTROLS) is not None


def _drop_labelled_chrome(soup: BeautifulSoup) -> None:
    for tag in list(soup.find_all(name=True)):
        if not _gone(tag) and _is_labelled_chrome(tag):
            tag.decompose()


def _text(tag: Tag) -> str:
    """Text of an element: inline tags join without spaces ("<b>만드세요</b>." stays
    "만드세요."), while line breaks and nested block elements separate words."""
    for br in tag.find_all("br"):
        br.replace_with("\n")
    for inner in tag.find_all(["p", "div", "li", "td", "th", "tr", "dt", "dd"]):
        inner.insert_after(" ")
    return tag.get_text()


def _drop_heading_decorations(root: Tag) -> None:
    """Permalink symbols ("¶") and bracketed edit links ("[edit]", MediaWiki) end
    headings in generated pages; they are not part of the heading's text."""
    for heading in root.find_all(list(_HEADINGS)):
        for anchor in heading.find_all("a"):
            if (anchor.get("href", "").startswith("#")
                    and anchor.get_text().strip() in _PERMALINK_SYMBOLS):
                anchor.decompose()
        for span in heading.find_all("span"):
            text = span.get_text().strip()
            if not _gone(span) and span.find("a") and re.fullmatch(r"\[[^\]]*\]", text):
                span.decompose()


def _is_layout_table(table: Tag) -> bool:
    """A table that lays out blocks instead of holding data: it holds headings or other
    tables, or no row has two cells with text (DocBook's note boxes: an icon cell, then
    the note). Its cells are read as text, not as "Column 1: ..." records."""
    if table.find(list(_HEADINGS | {"table"})) is not None:
        return True
    for row in table.find_all("tr"):
        cells = row.find_all(["th", "td"], recursive=False)
        if sum(bool(cell.get_text(strip=True)) for cell in cells) > 1:
            return False
    return True


def _main_root(soup: BeautifulSoup) -> Tag:
    """<main>, else the single <article>, else the element with role=main, else <body>."""
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    if main is not None:
        return main
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


class _Walker:
    """Turns the cleaned main element into blocks, in reading order."""

    def __init__(self) -> None:
        self.headings = HeadingStack()
        self.blocks: list[Block] = []
        self.loose: list[str] = []

    def add(self, text: str, kind: str) -> None:
        if text:
            self.blocks.append(Block(text, heading_path=self.headings.path, kind=kind))

    def flush(self, kind: str = "paragraph") -> None:
        self.add(clean_inline("".join(self.loose)), kind)
        self.loose.clear()

    def heading(self, tag: Tag) -> None:
        text = clean_inline(_text(tag))
        if text:
            path = self.headings.push(int(tag.name[1]), text)
            self.blocks.append(Block(text, heading_path=path, kind="heading"))

    def table(self, tag: Tag) -> None:
        trs = tag.find_all("tr")
        rows = [[_text(cell) for cell in tr.find_all(["th", "td"])] for tr in trs]
        # A first row of th cells only is the header the page marks.
        marked = bool(trs) and bool(trs[0].find("th")) and not trs[0].find("td")
        self.blocks.extend(table_blocks(rows, heading_path=self.headings.path,
                                        marked_header=marked))

    def walk(self, node: Tag, kind: str = "paragraph") -> None:
        """`kind` is "list" below a list item, so its paragraphs stay list items."""
        from bs4 import NavigableString, Tag

        for child in node.children:
            if type(child) is NavigableString:
                if child.strip():
                    self.loose.append(str(child))
            elif isinstance(child, Tag):
                self.element(child, kind)

    def element(self, child: Tag, kind: str) -> None:
        name = child.name
        if name in _INLINE_TAGS:
            self.loose.append(_text(child))
            return
        if name == "br":
            self.loose.append(" ")
            return
        self.flush(kind)
        if name in _HEADINGS:
            self.heading(child)
        elif name == "table" and not _is_layout_table(child):
            self.table(child)
        elif name == "pre":
            self.add(normalize_text(child.get_text()).strip("\n"), "code")
        elif name in _BLOCK_TAGS and not child.find(list(_HEADINGS | {"table", "p", "li"})):
            self.add(clean_inline(_text(child)), "list" if name in _LIST_TAGS else kind)
        else:
            self.walk(child, "list" if name in _LIST_TAGS else kind)
            self.flush(kind)


def _number_ordered_items(root: Tag) -> None:
    """Writes each item's number into an ordered list's items ("2. Run ..."), as a
    browser shows them: text such as "repeat step 2" refers to it."""
    for ordered in root.find_all("ol"):
        try:
            number = int(str(ordered.get("start") or 1))
        except ValueError:
            number = 1
        for item in ordered.find_all("li", recursive=False):
            _first_text_holder(item).insert(0, f"{number}. ")
            number += 1


def _first_text_holder(item: Tag) -> Tag:
    """The element whose text starts the item: the item, or its first paragraph when it
    opens with one (`<li><p>Run ...</p>`), so the number joins that paragraph's block."""
    while True:
        first: Any = next((c for c in item.children
                           if not (isinstance(c, str) and not c.strip())), None)
        if getattr(first, "name", None) not in ("p", "div"):  # text has no name
            return item
        item = first


def parse_html(path: Path) -> ParsedDocument:
    """Blocks of the page's main content (see the module docstring). Raises TooLarge
    for pathologically nested markup."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    markup = decode_bytes(path.read_bytes())
    _check_depth(markup)
    with warnings.catch_warnings():
        # XHTML (DocBook's output) is read as HTML on purpose: browsers do the same.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        # lxml's HTML parser does not expand entities declared in a DTD, so a crafted
        # page cannot blow up memory the way an XML "billion laughs" document can.
        soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("title")
    title = clean_inline(title_tag.get_text()) if title_tag else None
    targets = _pager_targets(soup)
    _drop_labelled_chrome(soup)
    _drop_chrome(soup)
    root = _main_root(soup)
    _drop_heading_decorations(root)
    _drop_pager_bars(root, targets)
    _drop_link_lists(root)
    _number_ordered_items(root)
    walker = _Walker()
    walker.walk(root)
    walker.flush()
    blocks = walker.blocks
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), None)
    return ParsedDocument(blocks=blocks, detected_type="html", page_count=None, title=title)
