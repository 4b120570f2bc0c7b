"""PDF: the text layer page by page, as a reader sees it (hidden text left out: see
_HiddenText; running headers, footers and contents lines dropped: see
_without_page_furniture), with headings from the outline (bookmarks) when the file has
one, otherwise from font sizes. Pages without a text layer (scans) go through OCR of
their embedded images."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.errors import EncryptedDocument, OcrUnavailable
from ingestion.ocr import ocr_image
from ingestion.parsers.common import HeadingStack, paragraph_blocks
from textproc.normalize import clean_inline, normalize_text

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader

ENCRYPTED_MESSAGE = (
    "This PDF is password-protected. Remove the password (for example, print it to a new "
    "PDF or use your PDF editor's security settings) and upload it again."
)
# A line this much larger than the body text is a heading (fonts print at e.g. 11pt
# body and 14pt+ headings; 1.15 tolerates rounding of scaled text).
_HEADING_RATIO = 1.15
_MAX_HEADING_CHARS = 150
_MAX_HEADING_LEVELS = 4
# A line at most this share of the page's longest line is short (see _ends_paragraph).
_SHORT_LINE = 0.5
# Line ends that continue or close a sentence: such a short line is not a title.
_CONTINUES = tuple(".,;:!?)-–—。、，；：！？」』")
# Page furniture (running headers and footers): recurring on this share of the pages,
# and on at least this many.
_FURNITURE_SHARE = 0.2
_FURNITURE_MIN_PAGES = 3
_ROMAN_NUMBER = re.compile(r"\b[ivxlcdm]+\b")
# A page's first or last line holding only a number ("12", "- 12 -", "xii"): its page
# number, even on a page without the running header (a chapter's first page).
_BARE_PAGE_NUMBER = re.compile(r"[\s\-–—]*(?:\d{1,4}|[ivxlcdm]{1,7})[\s\-–—]*",
                               re.IGNORECASE)
# A table-of-contents line: a title, dot leaders, a page number ("2.1 Install . . . 12").
_TOC_ENTRY = re.compile(r"(?:\.\s?){4,}\s*(?:\d+|[ivxlcdm]+)\s*$", re.IGNORECASE)
# A heading line that opens with its section's number ("7.8 ", "A.1 ", "Chapter 3 ", "제3장").
_NUMBERED = re.compile(r"(?i:chapter|appendix|part|section)\s+\w+\s|\d+(?:\.\d+)*\.?\s"
                       r"|[A-Z](?:\.\d+)+\.?\s|제\s*\d+\s*[장절]")
# What may precede a heading's title on its line: its number ("9.4.5", "A.1", "Chapter
# 3", "제3장"), as _key leaves it (no spaces or dots).
_SECTION_NUMBER = re.compile(r"(?:chapter|appendix|part|section|제)?[\dA-Za-z]?\d*(?:장|절)?",
                             re.IGNORECASE)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in page space (points)
# Render modes that paint nothing: 3 (invisible) and 7 (clip only).
_INVISIBLE_MODES = frozenset({3, 7})
# Text this small (points, after scaling) is not read by anyone: a hiding trick.
_TINY_POINTS = 2.0
_WHITE = 0.95  # a colour component this light (ink this thin in CMYK) is white
_SHOW_TEXT = frozenset({b"Tj", b"TJ", b"'", b'"'})
# A pen move of this many thousandths of an em or more between two glyphs of a line is a
# word space: kerning and letter spacing stay under a tenth of an em, while the narrowest
# word space of justified text is over a fifth (TeX's shrunk interword space: 0.22 em).
# pypdf counts a gap of half its space width as a space, and this width (in thousandths
# of an em) is the one it uses for a font that draws no space glyph (see _space_fonts).
_WORD_GAP = 150
_SPACE_WIDTH = 2 * _WORD_GAP
# A code the text never shows, named as the space of a font that has none.
_NO_SPACE = "\ufffe"
_FILL = frozenset({b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"})
# Colour spaces whose components say what white is. In others (a spot colour, where 1.0
# is full ink; an indexed palette; a named ICC profile) text is never taken for white.
_DEVICE_SPACES = frozenset({"/DeviceGray", "/DeviceRGB", "/DeviceCMYK", "/CalGray", "/CalRGB"})


@dataclass
class _Paint:
    """The part of the graphics state that decides whether text is seen."""

    render_mode: int = 0
    white: bool = False  # the fill colour, which text is drawn in, is white
    font_size: float = 0.0
    colour_space: str = "/DeviceGray"  # the fill colour space (cs)


def _is_white(components: list) -> bool:
    values = [float(c) for c in components if isinstance(c, int | float)]
    if len(values) == 4:  # CMYK: no ink
        return all(v <= 1 - _WHITE for v in values)
    return len(values) in (1, 3) and all(v >= _WHITE for v in values)


def _apply(cm: list[float], x: float, y: float) -> tuple[float, float]:
    return x * cm[0] + y * cm[2] + cm[4], x * cm[1] + y * cm[3] + cm[5]


def _box(cm: list[float], x: float, y: float, width: float, height: float) -> Box:
    corners = [_apply(cm, x + dx, y + dy) for dx in (0, width) for dy in (0, height)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _inside(box: Box, x: float, y: float, margin: float = 0.0) -> bool:
    return box[0] - margin <= x <= box[2] + margin and box[1] - margin <= y <= box[3] + margin


class _HiddenText:
    """Blanks the text a reader of the page does not see, before pypdf extracts it:
    invisible render modes, white text, text outside the page, tiny text. Called by
    pypdf before each operator (visitor_operand_before), it empties the operands of a
    hidden text-showing operator in place.

    Text drawn on something painted (a filled shape, an image) is seen: white text on a
    coloured banner, and the invisible text layer OCR puts over a scanned page image,
    whose words a reader does see, in the image.
    """

    def __init__(self, page_box: Box) -> None:
        self.page_box = page_box
        self.paint = _Paint()
        self.saved: list[_Paint] = []
        self.path: list[Box] = []
        self.painted: list[Box] = []  # filled non-white shapes and images so far

    def __call__(self, operator: bytes, operands: list, cm: list[float],
                 tm: list[float]) -> None:
        if operator in _SHOW_TEXT:
            if operands and self._hidden(cm, tm):
                operands[-1] = _empty(operands[-1])
            return
        handler = _STATE_OPERATORS.get(operator)
        if handler is not None:
            handler(self, operands, cm)

    def _hidden(self, cm: list[float], tm: list[float]) -> bool:
        x, y = _apply(cm, tm[4], tm[5])
        size = abs(self.paint.font_size * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]))
        if not _inside(self.page_box, x, y, margin=1.0) or size <= _TINY_POINTS:
            return True
        if self.paint.render_mode in _INVISIBLE_MODES or self.paint.white:
            return not any(_inside(box, x, y) for box in self.painted)
        return False

    def _save(self, _operands: list, _cm: list[float]) -> None:
        self.saved.append(_Paint(**vars(self.paint)))

    def _restore(self, _operands: list, _cm: list[float]) -> None:
        if self.saved:
            self.paint = self.saved.pop()

    def _render_mode(self, operands: list, _cm: list[float]) -> None:
        if operands and isinstance(operands[0], int | float):
            self.paint.render_mode = int(operands[0])

    def _font(self, operands: list, _cm: list[float]) -> None:
        if len(operands) >= 2 and isinstance(operands[1], int | float):
            self.paint.font_size = float(operands[1])

    def _device_colour(self, operands: list, _cm: list[float]) -> None:
        self.paint.white = _is_white(operands)

    def _colour(self, operands: list, _cm: list[float]) -> None:
        self.paint.white = self.paint.colour_space in _DEVICE_SPACES and _is_white(operands)

    def _colour_space(self, operands: list, _cm: list[float]) -> None:
        self.paint.colour_space = str(operands[0]) if operands else ""
        self.paint.white = False  # a new colour space starts at black

    def _rectangle(self, operands: list, cm: list[float]) -> None:
        if len(operands) == 4 and all(isinstance(v, int | float) for v in operands):
            self.path.append(_box(cm, *(float(v) for v in operands)))

    def _fill(self, _operands: list, _cm: list[float]) -> None:
        if not self.paint.white:
            self.painted.extend(self.path)
        self.path = []

    def _end_path(self, _operands: list, _cm: list[float]) -> None:
        self.path = []

    def _image(self, _operands: list, cm: list[float]) -> None:
        self.painted.append(_box(cm, 0.0, 0.0, 1.0, 1.0))  # images fill the unit square


_STATE_OPERATORS = {
    b"q": _HiddenText._save, b"Q": _HiddenText._restore, b"Tr": _HiddenText._render_mode,
    b"Tf": _HiddenText._font, b"g": _HiddenText._device_colour,
    b"rg": _HiddenText._device_colour, b"k": _HiddenText._device_colour,
    b"sc": _HiddenText._colour, b"scn": _HiddenText._colour,
    b"cs": _HiddenText._colour_space, b"re": _HiddenText._rectangle,
    b"n": _HiddenText._end_path, b"S": _HiddenText._end_path, b"s": _HiddenText._end_path,
    b"Do": _HiddenText._image, b"INLINE IMAGE": _HiddenText._image,
    **{operator: _HiddenText._fill for operator in _FILL},
}


def _empty(shown: object) -> object:
    """What a hidden text-showing operator shows instead: nothing, in the same type."""
    from pypdf.generic import ArrayObject, TextStringObject

    return ArrayObject() if isinstance(shown, list) else TextStringObject("")


@dataclass
class _Line:
    text: str
    size: float
    y: float


def _page_lines(page: PageObject) -> list[_Line]:
    """Lines of a page with their font size and baseline, from pypdf's text visitor."""
    lines: list[_Line] = []
    current: list[str] = []
    size = 0.0
    y: float | None = None

    def close() -> None:
        text = clean_inline("".join(current))
        if text:
            lines.append(_Line(text, size, y or 0.0))
        current.clear()

    def visit(text: str, cm: list[float], tm: list[float], _font: object, font_size: float) -> None:
        nonlocal size, y
        if not text:
            return
        scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) or 1.0
        effective = abs(font_size * scale)
        baseline = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if y is not None and current and abs(baseline - y) > max(effective, size) * 0.5:
            close()
        if not current:
            size, y = effective, baseline
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i > 0:
                close()
                size, y = effective, baseline
            current.append(part)
            size = max(size, effective)

    _space_fonts()
    page.extract_text(visitor_text=visit, visitor_operand_before=_HiddenText(_page_box(page)),
                      space_width=_SPACE_WIDTH)
    close()
    return lines


def _space_fonts() -> None:
    """Has pypdf find word gaps by the real space width of fonts that draw no space glyph.

    Producers that space words by pen moves (LibreOffice, LaTeX, browsers printing to PDF)
    embed subset fonts without a space glyph. pypdf then takes code 32 for the space, which
    in such a font (Identity-H above all) draws another glyph, '=' or a letter, and judges
    word gaps from that glyph's width: moves of a quarter em were read as no gap at all
    ("DebianusesFreeTypetorasterize", and "usesFreeType" where a link's colour starts a
    new text object). Such a font's space is named absent, so pypdf uses _SPACE_WIDTH for
    it (the `space_width` of extract_text applies to fonts whose space has no width).
    pypdf builds its fonts through the name Font of its page module, with no parameter for
    this, hence the subclass put there once per process."""
    import pypdf._page as page_module

    spaced = _spaced_font_class()
    if getattr(page_module, "Font", None) not in (None, spaced):
        setattr(page_module, "Font", spaced)  # noqa: B010 (mypy: no assigning to a class)


@cache
def _spaced_font_class() -> type:
    """pypdf's Font, with the space of a font that draws none named absent (built on first
    use: pypdf is imported lazily)."""
    from pypdf.generic import DictionaryObject
    from pypdf.generic._font import Font

    class SpacedFont(Font):
        @classmethod
        def from_font_resource(cls, resource: DictionaryObject) -> Font:
            font = Font.from_font_resource(resource)
            shows = font.character_map if isinstance(font.character_map, dict) else {}
            drawn = shows.get(font.space_char)
            if drawn not in (None, " ") and " " not in shows.values():
                font.space_char = _NO_SPACE
            return font

    return SpacedFont


def _page_box(page: PageObject) -> Box:
    box = page.cropbox
    return (float(box.left), float(box.bottom), float(box.right), float(box.top))


def _furniture_key(text: str) -> str:
    """A running header's or footer's letters without its page number, so "Debian
    Reference xx", "Debian Reference 23 / 233" and "Debian Reference 24 / 233" are one
    line (and a bare page number is the empty key)."""
    return "".join(ch for ch in _ROMAN_NUMBER.sub("", text.casefold()) if ch.isalpha())


def _without_page_furniture(pages: list[list[_Line]], body: float) -> list[list[_Line]]:
    """The pages without what a reader skips: the running header and footer repeated on
    many pages (the first or last line of a page, not larger than the `body` text size,
    whose text, page numbers aside, recurs on at least _FURNITURE_SHARE of them) and
    table-of-contents lines with dot leaders. Indexed, they match any question naming
    the document and push the answer down. A heading that opens each of its pages
    ("Chapter 3" in a larger font) stays."""
    ends = [[line for line in {id(lines[0]): lines[0], id(lines[-1]): lines[-1]}.values()
             if not body or line.size < body * _HEADING_RATIO] if lines else []
            for lines in pages]
    repeated = _repeated_ends(ends)
    return [[line for line in lines
             if not (any(line is end for end in page_ends)
                     and (_furniture_key(line.text) in repeated
                          or _BARE_PAGE_NUMBER.fullmatch(line.text)))
             and not _TOC_ENTRY.search(line.text)]
            for lines, page_ends in zip(pages, ends, strict=True)]


def _repeated_ends(ends: list[list[_Line]]) -> set[str]:
    """Keys of the page-end lines that recur on enough pages to be furniture."""
    counts = Counter(_furniture_key(line.text) for lines in ends for line in lines)
    floor = max(_FURNITURE_MIN_PAGES, len(ends) * _FURNITURE_SHARE)
    return {key for key, count in counts.items() if count >= floor}


def _body_size(pages: list[list[_Line]]) -> float:
    counts: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            counts[round(line.size, 1)] += len(line.text)
    return counts.most_common(1)[0][0] if counts else 0.0


def _outline(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(level, title, page index) of each bookmark, in order."""
    entries: list[tuple[int, str, int]] = []

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page_index = reader.get_destination_page_number(item)
            except Exception:  # a broken bookmark must not fail the whole file
                page_index = None
            title = clean_inline(str(item.title or ""))
            if title and page_index is not None and page_index >= 0:
                entries.append((level, title, page_index))

    try:
        walk(reader.outline, 1)
    except Exception:  # the outline is optional metadata
        return []
    return entries


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text).casefold()


def _prints_bookmark(line: str, title: str) -> bool:
    """The line prints the bookmark's title, with or without its number in front
    ("9.4.5 Listing files opened by a process" for the bookmark "Listing files opened
    by a process"); left as body text, the number and title would be glued into it."""
    line_key, title_key = _key(line), _key(title)
    if not title_key or not line_key.endswith(title_key):
        return False
    return bool(_SECTION_NUMBER.fullmatch(line_key[: len(line_key) - len(title_key)]))


def _paragraphs(lines: list[_Line], widest: int) -> list[str]:
    """Join consecutive lines into paragraphs, breaking on a vertical gap and after a
    title line (see _ends_paragraph). `widest` is the longest line of the page, in
    characters. A gap breaks when it exceeds 1.8 font sizes and the page's usual line
    pitch by a third: double-spaced text (lines 2.3 font sizes apart) is still one
    paragraph per paragraph, not one per line, which cut quoted sentences mid-way."""
    paragraphs: list[list[str]] = []
    previous: _Line | None = None
    pitch = _line_pitch(lines)
    for line in lines:
        gap = abs(previous.y - line.y) if previous is not None else 0.0
        wide = previous is not None and gap > max(max(line.size, previous.size) * 1.8,
                                                  pitch * 1.35)
        if previous is None or wide or gap == 0.0 or _ends_paragraph(previous, widest):
            paragraphs.append([line.text])
        else:
            paragraphs[-1].append(line.text)
        previous = line
    return [" ".join(p) for p in paragraphs]


def _line_pitch(lines: list[_Line]) -> float:
    """The page's most common distance between consecutive baselines (0 for a page of
    one line): the line spacing its running text is set in."""
    gaps = [round(abs(a.y - b.y)) for a, b in pairwise(lines)
            if 0 < abs(a.y - b.y) <= 3 * max(a.size, b.size)]
    if not gaps:
        return 0.0
    return float(Counter(gaps).most_common(1)[0][0])


def _ends_paragraph(line: _Line, widest: int) -> bool:
    """A line well short of the page's lines that does not end a sentence or clause is a
    title set in the body font ("Parking" above its paragraph): joined to the next line,
    it would be glued into that paragraph's first sentence. Lines of running text reach
    the column's edge; only a paragraph's last line stops short, and it ends with
    punctuation."""
    return len(line.text) <= widest * _SHORT_LINE and not line.text.endswith(_CONTINUES)


def _ocr_page(page: PageObject) -> str:
    texts = []
    for image_file in page.images:
        texts.append(ocr_image(image_file.image))
    return "\n\n".join(texts)


def _open(path: Path) -> PdfReader:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    reader = PdfReader(str(path), strict=False)
    if reader.is_encrypted:
        # Many PDFs are encrypted with an empty user password only to restrict
        # printing or copying: those open without asking anyone for anything.
        try:
            if not reader.decrypt(""):
                raise EncryptedDocument(ENCRYPTED_MESSAGE)
        except (FileNotDecryptedError, DependencyError, NotImplementedError) as exc:
            raise EncryptedDocument(ENCRYPTED_MESSAGE) from exc
    return reader


# One pass over the pages whose branches share its state (heading levels, the outline,
# repeated headers and footers); split, that state would travel through every helper.
def parse_pdf(path: Path) -> ParsedDocument:  # noqa: C901, PLR0915
    reader = _open(path)
    pages = [_page_lines(page) for page in reader.pages]
    body = _body_size(pages)
    pages = _without_page_furniture(pages, body)
    outline = _outline(reader)
    heading_sizes = sorted(
        {round(line.size, 1) for lines in pages for line in lines
         if body and line.size >= body * _HEADING_RATIO and len(line.text) <= _MAX_HEADING_CHARS},
        reverse=True,
    )[:_MAX_HEADING_LEVELS]

    headings = HeadingStack()
    blocks: list[Block] = []
    ocr_error: OcrUnavailable | None = None
    for index, lines in enumerate(pages):
        number = index + 1
        pending = [(level, title) for level, title, page in outline if page == index]
        if not lines and reader.pages[index].images:
            try:
                text = _ocr_page(reader.pages[index])
            except OcrUnavailable as exc:
                ocr_error = exc
                continue
            for level, title in pending:
                blocks.append(Block(title, page=number, heading_path=headings.push(level, title),
                                    kind="heading"))
            blocks.extend(paragraph_blocks(text, page=number, heading_path=headings.path))
            continue
        run: list[_Line] = []
        widest = max((len(line.text) for line in lines), default=0)

        def flush(run: list[_Line] = run, number: int = number, widest: int = widest) -> None:
            for para in _paragraphs(run, widest):
                blocks.append(Block(normalize_text(para), page=number,
                                    heading_path=headings.path))
            run.clear()

        printed = {title for _, title in pending
                   if any(_prints_bookmark(line.text, title) for line in lines)}

        def unprinted(pending: list[tuple[int, str]] = pending, number: int = number,
                      printed: set[str] = printed) -> None:
            # Bookmarks whose title is not printed on the page (as a line of its own)
            # start their section where the bookmark before them ends.
            while pending and pending[0][1] not in printed:
                lvl, title = pending.pop(0)
                blocks.append(Block(title, page=number, heading_path=headings.push(lvl, title),
                                    kind="heading"))

        unprinted()
        for line in lines:
            level: int | None = None
            if outline:
                if pending and _prints_bookmark(line.text, pending[0][1]):
                    level = pending.pop(0)[0]
            elif round(line.size, 1) in heading_sizes:
                level = heading_sizes.index(round(line.size, 1)) + 1
            if level is None:
                run.append(line)
                continue
            flush()
            if blocks and blocks[-1].kind == "heading" and blocks[-1].page == number and (
                not outline and headings.path and len(headings.path) == level
            ) and len(blocks[-1].text) + len(line.text) <= _MAX_HEADING_CHARS and (
                # A heading wrapped over two lines of the same size is one heading; two
                # numbered ones ("7.7 Remote desktop", "7.8 X server connection": a
                # section of only a table) are two.
                blocks[-1].heading_path == headings.path
                and not (_NUMBERED.match(blocks[-1].text) and _NUMBERED.match(line.text))
            ):
                merged = f"{blocks[-1].text} {line.text}"
                headings.push(level, merged)
                blocks[-1] = Block(merged, page=number, heading_path=headings.path,
                                   kind="heading")
                continue
            blocks.append(Block(line.text, page=number,
                                heading_path=headings.push(level, line.text), kind="heading"))
            unprinted()
        flush()
        for lvl, title in pending:
            headings.push(lvl, title)
    if not any(b.kind != "heading" for b in blocks) and ocr_error is not None:
        raise ocr_error
    metadata_title = None
    try:
        metadata_title = clean_inline(str((reader.metadata or {}).get("/Title") or "")) or None
    except Exception:  # broken metadata is not worth failing the file
        metadata_title = None
    title = metadata_title or next((b.text for b in blocks if b.kind == "heading"), None)
    return ParsedDocument(blocks=blocks, detected_type="pdf", page_count=len(reader.pages),
                          title=title)
