"""Word (.docx): what a person sees on the page, in reading order.

Headings (built-in, Korean-named, custom styles based on a heading, outline levels)
build the heading path; paragraphs and list items follow under it; tables become
header-labelled rows, cells wrapped in content controls included and vertically merged
cells carrying their value down; text boxes follow the paragraph that anchors them
(read once, although Word stores a VML copy beside the DrawingML one); footnotes and
endnotes follow the paragraph that cites them; header and footer text comes once at
the end. Text a reader cannot see (hidden, white on an unshaded background, 2 pt or
smaller) is left out, so it can never be quoted as if it were the document's word; so
are the table of contents and the prompts of empty form fields, which are navigation
and placeholders rather than content. Macro-enabled files and templates (.docm, .dotx,
.dotm) are read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import HeadingStack, table_blocks
from textproc.normalize import clean_inline, normalize_text

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from lxml.etree import _Element as Element

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
# Word stores built-in style names in English whatever the UI language; "제목" covers
# custom Korean heading styles and "개요" the outline styles of Hancom Office exports.
_HEADING_NAME = re.compile(r"^(?:heading|제목|개요)\s*(\d)$", re.IGNORECASE)
# Elements whose text is not shown where they stand: revision marks of deleted text,
# field instructions, the fallback copy of a text box, and property bags.
_SKIP = frozenset({f"{_MC}Fallback", f"{_W}del", f"{_W}moveFrom", f"{_W}instrText",
                   f"{_W}rPr", f"{_W}pPr", f"{_W}tcPr", f"{_W}trPr", f"{_W}tblPr",
                   f"{_W}sdtPr", f"{_W}sdtEndPr"})
# Wrappers that hold block content (paragraphs, tables, cells) without adding any.
_TRANSPARENT = frozenset({f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}smartTag",
                          f"{_MC}AlternateContent", f"{_MC}Choice", f"{_W}ins",
                          f"{_W}moveTo"})
# Styles of a table of contents (and of figures): navigation, listing section titles
# with page numbers; they match any question that names a section.
_NAVIGATION_STYLE = re.compile(r"^(?:toc(?: \d| heading)|table of figures)$", re.IGNORECASE)
_WORD_MAIN_TYPES = (
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
)
# Run elements that stand for a character on the page.
_CHARACTERS = {f"{_W}tab": " ", f"{_W}ptab": " ", f"{_W}br": "\n", f"{_W}cr": "\n",
               f"{_W}noBreakHyphen": "-"}
_NOTE_REFERENCES = {f"{_W}footnoteReference": "footnote", f"{_W}endnoteReference": "endnote"}
_WHITE = frozenset({"FFFFFF"})
_WHITE_THEMES = frozenset({"background1", "light1"})
_TINY_HALF_POINTS = 4  # 2 pt: below what anyone reads on a page
_OFF = frozenset({"0", "false", "off"})


def _val(element: Element | None) -> str | None:
    return None if element is None else element.get(f"{_W}val")


def _on(element: Element | None) -> bool:
    """A toggle property (w:vanish, w:b): present and not switched off."""
    return element is not None and (_val(element) or "true").lower() not in _OFF


def _shaded(props: Element | None) -> bool:
    """Whether a property bag paints a non-white background (where white text shows)."""
    if props is None:
        return False
    fill = props.find(f"{_W}shd")
    if fill is not None and (fill.get(f"{_W}fill") or "auto").upper() not in {"AUTO", "FFFFFF"}:
        return True
    highlight = _val(props.find(f"{_W}highlight"))
    return highlight not in (None, "none", "white")


class _Styles:
    """Style lookups with inheritance (w:basedOn), as Word resolves them."""

    def __init__(self, styles_root: Element | None) -> None:
        styles = [] if styles_root is None else styles_root.findall(f"{_W}style")
        self._by_id = {s.get(f"{_W}styleId"): s for s in styles}
        self._default_paragraph = next(
            (s.get(f"{_W}styleId") for s in styles if s.get(f"{_W}type") == "paragraph"
             and (s.get(f"{_W}default") or "0").lower() not in _OFF), None)
        self._defaults = (None if styles_root is None else
                          styles_root.find(f"{_W}docDefaults/{_W}rPrDefault/{_W}rPr"))

    def chain(self, style_id: str | None) -> list[Element]:
        """The style and the styles it is based on, nearest first (cycles cut)."""
        chain: list[Element] = []
        while style_id and style_id in self._by_id and len(chain) < 20:
            style = self._by_id[style_id]
            if style in chain:
                break
            chain.append(style)
            style_id = _val(style.find(f"{_W}basedOn"))
        return chain

    def paragraph_chain(self, p: Element) -> list[Element]:
        return self.chain(_val(p.find(f"{_W}pPr/{_W}pStyle")) or self._default_paragraph)

    def run_properties(self, run: Element, paragraph_styles: list[Element]) -> list[Element]:
        """Every rPr that can set a run's formatting, the one that wins first."""
        bags = [run.find(f"{_W}rPr")]
        bags += [s.find(f"{_W}rPr") for s in self.chain(_val(run.find(f"{_W}rPr/{_W}rStyle")))]
        bags += [s.find(f"{_W}rPr") for s in paragraph_styles]
        bags.append(self._defaults)
        return [bag for bag in bags if bag is not None]


def _first(bags: list[Element], tag: str) -> Element | None:
    return next((found for bag in bags if (found := bag.find(f"{_W}{tag}")) is not None), None)


def _invisible(bags: list[Element], *, on_shading: bool) -> bool:
    """Hidden (vanish/specVanish), tiny (<= 2 pt), or white on an unshaded background."""
    if _on(_first(bags, "vanish")) or _on(_first(bags, "specVanish")):
        return True
    size = _val(_first(bags, "sz"))
    if size and size.isdigit() and int(size) <= _TINY_HALF_POINTS:
        return True
    color = _first(bags, "color")
    white = color is not None and ((_val(color) or "").upper() in _WHITE
                                   or color.get(f"{_W}themeColor") in _WHITE_THEMES)
    return white and not on_shading and not any(_shaded(bag) for bag in bags)


def _heading_level(p: Element, chain: list[Element]) -> int | None:
    """0 for Title, 1..9 for headings; a direct outline level wins over the style's.
    Generated files often name a style ("Heading2") without defining it: the name of
    an undefined style still says what the author meant."""
    direct = _val(p.find(f"{_W}pPr/{_W}outlineLvl"))
    if direct is not None:
        return int(direct) + 1 if direct.isdigit() and int(direct) < 9 else None
    if not chain:
        match = _HEADING_NAME.match(_val(p.find(f"{_W}pPr/{_W}pStyle")) or "")
        return int(match.group(1)) if match else None
    for style in chain:
        name = (_val(style.find(f"{_W}name")) or "").strip()
        if name.lower() == "title":
            return 0
        if match := _HEADING_NAME.match(name):
            return int(match.group(1))
        outline = _val(style.find(f"{_W}pPr/{_W}outlineLvl"))
        if outline is not None and outline.isdigit() and int(outline) < 9:
            return int(outline) + 1
    return None


def _is_list_item(p: Element, chain: list[Element]) -> bool:
    if p.find(f"{_W}pPr/{_W}numPr") is not None:
        return True
    return any(s.find(f"{_W}pPr/{_W}numPr") is not None
               or (_val(s.find(f"{_W}name")) or "").lower().startswith("list") for s in chain)


def _not_content(element: Element) -> bool:
    """A content control holding a table of contents, or showing only its prompt
    ("Click or tap here to enter text."): nothing a reader looks up."""
    props = element.find(f"{_W}sdtPr") if element.tag == f"{_W}sdt" else None
    if props is None:
        return False
    gallery = _val(props.find(f"{_W}docPartObj/{_W}docPartGallery"))
    return _on(props.find(f"{_W}showingPlcHdr")) or gallery == "Table of Contents"


def _is_navigation(chain: list[Element]) -> bool:
    return any(_NAVIGATION_STYLE.match((_val(s.find(f"{_W}name")) or "").strip())
               for s in chain[:1])


def block_items(container: Element) -> Iterator[Element]:
    """The paragraphs and tables of a body, cell, text box, header or note, looking
    through content controls and other wrappers."""
    for child in container:
        if child.tag in (f"{_W}p", f"{_W}tbl"):
            yield child
        elif child.tag in _TRANSPARENT and not _not_content(child):
            yield from block_items(child)


def _row_cells(tr: Element) -> Iterator[Element]:
    for child in tr:
        if child.tag == f"{_W}tc":
            yield child
        elif child.tag in _TRANSPARENT:
            yield from _row_cells(child)


class _Inline:
    """What one paragraph shows: its text, the text boxes it anchors and the notes it
    cites."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.boxes: list[Element] = []
        self.notes: list[tuple[str, str]] = []

    @property
    def text(self) -> str:
        return normalize_text("".join(self.parts))


class _Reader:
    def __init__(self, styles: _Styles, notes: dict[tuple[str, str], Element], *,
                 page_colored: bool) -> None:
        self.styles = styles
        self.notes = notes
        # White text shows on a page whose background colour is set (and is not white).
        self.page_colored = page_colored
        self.headings = HeadingStack()
        self.blocks: list[Block] = []

    # --- paragraphs ------------------------------------------------------------------

    def inline(self, p: Element, *, shaded: bool = False) -> tuple[_Inline, list[Element]]:
        chain = self.styles.paragraph_chain(p)
        found = _Inline()
        shaded = shaded or self.page_colored or _shaded(p.find(f"{_W}pPr"))
        self._collect(p, chain, found, shaded=shaded)
        return found, chain

    def _collect(self, element: Element, chain: list[Element], found: _Inline, *,
                 shaded: bool) -> None:
        for child in element:
            tag = child.tag
            if tag in _SKIP or _not_content(child):
                continue
            if tag == f"{_W}txbxContent":
                found.boxes.append(child)
            elif tag == f"{_W}r" and _invisible(self.styles.run_properties(child, chain),
                                                        on_shading=shaded):
                continue
            elif tag == f"{_W}t":
                found.parts.append(child.text or "")
            elif tag in _CHARACTERS:
                found.parts.append(_CHARACTERS[tag])
            elif tag in _NOTE_REFERENCES:
                found.notes.append((_NOTE_REFERENCES[tag], child.get(f"{_W}id")))
            else:
                self._collect(child, chain, found, shaded=shaded)

    def paragraph(self, p: Element) -> None:
        found, chain = self.inline(p)
        if _is_navigation(chain):
            return
        text = found.text
        level = _heading_level(p, chain) if text else None
        if level is not None:
            title = clean_inline(text)
            self.blocks.append(Block(title, heading_path=self.headings.push(level, title),
                                     kind="heading"))
        elif text:
            kind = "list" if _is_list_item(p, chain) else "paragraph"
            self.blocks.append(Block(text, heading_path=self.headings.path, kind=kind))
        for box in found.boxes:
            self.body(box)
        for key in found.notes:
            self.note(key)

    def note(self, key: tuple[str, str]) -> None:
        note = self.notes.get(key)
        text = normalize_text(" ".join(self.container_text(note))) if note is not None else ""
        if text:
            self.blocks.append(Block(text, heading_path=self.headings.path))

    # --- tables ----------------------------------------------------------------------

    def table(self, tbl: Element) -> None:
        self.blocks.extend(table_blocks(self.table_rows(tbl), heading_path=self.headings.path))

    def table_rows(self, tbl: Element) -> list[list[str]]:
        """Cell texts on the table's grid: a cell spanning columns fills the first of
        them, a vertically merged cell repeats the value of the cell it continues."""
        rows: list[list[str]] = []
        above: dict[int, str] = {}
        for tr in tbl.findall(f"{_W}tr"):
            row = [""] * int(_val(tr.find(f"{_W}trPr/{_W}gridBefore")) or 0)
            for tc in _row_cells(tr):
                column = len(row)
                span = int(_val(tc.find(f"{_W}tcPr/{_W}gridSpan")) or 1)
                merge = tc.find(f"{_W}tcPr/{_W}vMerge")
                continues = merge is not None and _val(merge) in (None, "continue")
                text = above.get(column, "") if continues else self.cell_text(tc)
                above[column] = text
                row += [text] + [""] * (span - 1)
            rows.append(row)
        return rows

    def cell_text(self, tc: Element) -> str:
        shaded = _shaded(tc.find(f"{_W}tcPr"))
        return " ".join(self.container_text(tc, shaded=shaded))

    def container_text(self, container: Element, *, shaded: bool = False) -> list[str]:
        """The visible text of a cell, text box or note as one line per paragraph (a
        nested table's rows as "a | b")."""
        parts: list[str] = []
        for item in block_items(container):
            if item.tag == f"{_W}tbl":
                parts += [" | ".join(c for c in row if c) for row in self.table_rows(item)]
                continue
            found, _ = self.inline(item, shaded=shaded)
            parts.append(found.text)
            for box in found.boxes:
                parts += self.container_text(box, shaded=shaded)
        return [part for part in parts if part.strip()]

    # --- whole parts -----------------------------------------------------------------

    def body(self, container: Element) -> None:
        for item in block_items(container):
            if item.tag == f"{_W}tbl":
                self.table(item)
            else:
                self.paragraph(item)

    def margins(self, parts: list[Element]) -> None:
        """Header and footer text once (every section repeats them), without bare page
        numbers; outside any heading, since it belongs to the whole document."""
        seen: set[str] = set()
        for part in parts:
            for line in self.container_text(part):
                text = normalize_text(line)
                if text not in seen and re.search(r"[^\W\d_]", text):
                    seen.add(text)
                    self.blocks.append(Block(text))


def _part_root(part: object) -> Element:
    element = getattr(part, "element", None)
    if element is not None:
        return element
    from lxml import etree

    # The container passed safety.check_office_xml (no DTDs); entities stay unresolved.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(part.blob, parser)  # type: ignore[attr-defined]


def _related_roots(document_part: object, kind: str) -> list[Element]:
    rels = document_part.rels.values()  # type: ignore[attr-defined]
    return [_part_root(rel.target_part) for rel in rels
            if not rel.is_external and rel.reltype == _R + kind]


def _notes(document_part: object) -> dict[tuple[str, str], Element]:
    notes = {}
    for kind in ("footnote", "endnote"):
        for root in _related_roots(document_part, kind + "s"):
            for note in root.findall(f"{_W}{kind}"):
                if note.get(f"{_W}type") in (None, "normal"):
                    notes[(kind, note.get(f"{_W}id"))] = note
    return notes


def _open(path: Path) -> DocxDocument:
    """The document of a .docx, or of its macro-enabled and template siblings (.docm,
    .dotx, .dotm), which python-docx's Document() refuses by content type alone."""
    from docx.opc.part import PartFactory
    from docx.package import Package
    from docx.parts.document import DocumentPart

    for content_type in _WORD_MAIN_TYPES:
        PartFactory.part_type_for.setdefault(content_type, DocumentPart)
    # A file object, not a path: the stored original has no extension, and the
    # libraries must never need one.
    with path.open("rb") as handle:
        return Package.open(handle).main_document_part.document


def parse_docx(path: Path) -> ParsedDocument:
    document = _open(path)
    part = document.part
    background = document.element.find(f"{_W}background")
    page_colored = background is not None and (
        background.get(f"{_W}color") or "auto").upper() not in {"AUTO", "FFFFFF"}
    reader = _Reader(_Styles(document.styles.element), _notes(part), page_colored=page_colored)
    reader.body(document.element.body)
    reader.margins(_related_roots(part, "header") + _related_roots(part, "footer"))
    title = clean_inline(document.core_properties.title or "") or next(
        (b.text for b in reader.blocks if b.kind == "heading"), None
    )
    return ParsedDocument(blocks=reader.blocks, detected_type="docx", page_count=None,
                          title=title)
