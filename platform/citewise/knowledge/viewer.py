"""The source viewer: what a citation opens.

PDF: the cited page, rendered to a PNG once and kept under
DATA_DIR/page-images/<document id>/ (removed with the document: storage.delete_document_rows),
and the boxes of the passage and of its quoted sentence on that page, found in the page's
own text layer. Our parser (pypdf) and pdfium extract text differently (line breaks,
hyphenation, ligatures, spacing), so both sides are compared as letters and digits only,
case-folded; a sentence split by a page break is found by its longest prefix or suffix.

Other formats: the extracted text around the passage, stitched from neighbouring chunks
by their character offsets in the document's text, so the sentences that consecutive
chunks share (the chunker overlaps them) are shown once.

Callers check permissions first (citewise.knowledge.permissions); this module never does.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from citewise.knowledge.places import headings_below_title, place_label
from citewise.knowledge.storage import local_copy, original_exists
from ingestion.chunker import Location, quoted_location
from textproc.sentences import sentence_spans

if TYPE_CHECKING:
    from citewise.knowledge.models import Chunk, Document

# Pixels per PDF point (1.5 = 108 dpi: sharp on a laptop, a few hundred KB a page), capped
# so a poster-sized page does not become a 100-megapixel image.
RENDER_SCALE = 1.5
MAX_SIDE_PIXELS = 2000
# Chunks shown before and after the cited one (other formats).
CONTEXT_CHUNKS = 3
# A quote longer than this is not a sentence a citation names (a URL is not a document).
MAX_QUOTE_CHARS = 2000
# The shortest part of a sentence (letters and digits) taken as found on a page when the
# whole sentence is not there: shorter prefixes match by chance.
MIN_PARTIAL_MATCH = 12
# The fewest letters and digits of a passage's sentence that get a box: shorter ones (a
# page number, a footnote mark) are found first wherever the page has them ("Chapter 1").
MIN_BOXED_SENTENCE = 4
# Punctuation marks next to a match that its box takes in (".", ")." or an opening "(").
MAX_TOUCHING_PUNCTUATION = 2
# pdfium is not thread-safe: one render or text search at a time per process. Taking it
# before looking at the cache also means a page is never rendered twice by one process.
_PDFIUM = threading.Lock()


@dataclass(frozen=True)
class Box:
    """A highlighted region in the displayed page's coordinates (points, origin top left,
    the page's rotation applied): the units of the overlay's SVG viewBox."""

    x: float
    y: float
    width: float
    height: float
    quoted: bool


@dataclass(frozen=True)
class PageView:
    number: int
    count: int
    width: float
    height: float
    boxes: tuple[Box, ...]
    has_text: bool
    holds_passage: bool  # part of the passage's text is on this page, by its locations

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None

    @property
    def passage_boxes(self) -> list[Box]:
        return [box for box in self.boxes if not box.quoted]

    @property
    def quote_boxes(self) -> list[Box]:
        return [box for box in self.boxes if box.quoted]


@dataclass(frozen=True)
class TextView:
    """The extracted text around the passage, in five consecutive parts."""

    before: str
    passage_head: str
    quote: str
    passage_tail: str
    after: str


@dataclass(frozen=True)
class SourceView:
    chunk: Chunk
    document: Document
    heading_path: tuple[str, ...]
    quote: str  # the quoted sentence as the passage has it; "" when not found there
    passage: TextView  # the passage alone (no context), split around the quote
    page: PageView | None  # PDFs
    text: TextView | None  # other formats
    page_number: int | None  # the page or slide number shown beside the title
    line: int | None = None  # the quote's line or spreadsheet row (the passage's first)

    @property
    def headings(self) -> list[str]:
        """The heading path as the breadcrumbs show it, after the document's title."""
        return headings_below_title(self.heading_path, self.document.title)

    @property
    def place(self) -> str:
        """"page 3", "slide 3", "Prices, row 12", "line 40" (knowledge.places)."""
        return place_label(self.document.detected_type, page=self.page_number,
                           line=self.line, heading_path=self.heading_path)


def source_view(chunk: Chunk, *, page: int | None, quote: str) -> SourceView | None:
    """What the viewer shows for `chunk`, at `page` (PDF; default: the quote's page) with
    `quote` (a sentence of the passage) marked. None for a page the document lacks."""
    quote_span = find_in_passage(chunk.text, quote)
    quote = chunk.text[quote_span[0]:quote_span[1]] if quote_span else ""
    located = quoted_location(chunk.text, _locations(chunk), quote)
    heading_path = tuple(located.heading_path) if located else tuple(chunk.heading_path)
    default_page = (located.page if located else None) or chunk.page_start
    passage = _split(chunk.text, quote_span)
    if is_pdf(chunk.document):
        page_view = pdf_page_view(chunk, page or default_page or 1, quote=quote)
        if page_view is None:
            return None
        return SourceView(chunk, chunk.document, heading_path, quote, passage, page_view,
                          None, page_view.number)
    # Other formats, and a PDF whose original is gone: the extracted text.
    return SourceView(chunk, chunk.document, heading_path, quote, passage, None,
                      text_view(chunk, quote_span), default_page,
                      line=located.line if located else None)


def is_pdf(document: Document) -> bool:
    """A PDF whose original is still there to render."""
    return document.detected_type == "pdf" and original_exists(document.stored_path)


def _split(text: str, quote_span: tuple[int, int] | None) -> TextView:
    start, end = quote_span or (len(text), len(text))
    return TextView("", text[:start], text[start:end], text[end:], "")


# --- Other formats: the text around the passage -------------------------------------


def find_in_passage(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` lies in `text`, whatever its whitespace and case; None if absent."""
    words = quote[:MAX_QUOTE_CHARS].split()
    if not words:
        return None
    found = re.search(r"\s+".join(map(re.escape, words)), text, re.IGNORECASE)
    return found.span() if found else None


def text_view(chunk: Chunk, quote_span: tuple[int, int] | None) -> TextView:
    neighbours = list(chunk.document.chunks.filter(
        ordinal__gte=chunk.ordinal - CONTEXT_CHUNKS, ordinal__lte=chunk.ordinal + CONTEXT_CHUNKS)
        .only("ordinal", "text", "char_start", "char_end"))
    pieces = _covering_pieces(neighbours)
    passage = _split(chunk.text, quote_span)
    return TextView(
        before=_text_between(pieces, neighbours[0].char_start, chunk.char_start),
        passage_head=passage.passage_head, quote=passage.quote,
        passage_tail=passage.passage_tail,
        after=_text_between(pieces, chunk.char_end, neighbours[-1].char_end))


def document_text(document: Document, *, max_chars: int) -> str:
    """The document's extracted text from its start up to `max_chars`, stitched from its
    chunks (the sentences they share shown once): the preview of a file that is not a
    PDF. Empty before the document is parsed."""
    chunks = list(document.chunks.filter(char_start__lt=max_chars).order_by("ordinal")
                  .only("ordinal", "text", "char_start", "char_end"))
    if not chunks:
        return ""
    end = min(max_chars, max(chunk.char_end for chunk in chunks))
    return _text_between(_covering_pieces(chunks), chunks[0].char_start, end)


def _body(chunk: Chunk) -> str:
    """The chunk's text at its offsets: without the table header a continuing table
    chunk repeats in front (see ingestion.chunker's invariant)."""
    return chunk.text[len(chunk.text) - (chunk.char_end - chunk.char_start):]


def _covering_pieces(chunks: list[Chunk]) -> list[tuple[int, str]]:
    """(offset in the document's text, text) pieces that cover the chunks' spans once:
    each chunk contributes only what the previous ones did not already cover."""
    pieces: list[tuple[int, str]] = []
    covered = 0
    for chunk in chunks:
        start = max(chunk.char_start, covered)
        if start < chunk.char_end:
            pieces.append((start, _body(chunk)[start - chunk.char_start:]))
        covered = max(covered, chunk.char_end)
    return pieces


def _text_between(pieces: list[tuple[int, str]], start: int, end: int) -> str:
    """The document's text from `start` to `end` as far as the pieces cover it. Uncovered
    gaps are the whitespace between sentences or blocks (the chunker's units cover every
    word): a blank line for a gap the width of a block separator or wider, else a space."""
    parts: list[str] = []
    cursor = start
    for offset, text in pieces:
        piece_start, piece_end = max(offset, start), min(offset + len(text), end)
        if piece_start >= piece_end:
            continue
        parts.append(_gap(piece_start - cursor))
        parts.append(text[piece_start - offset:piece_end - offset])
        cursor = piece_end
    if parts:
        parts.append(_gap(end - cursor))
    return "".join(parts)


def _gap(width: int) -> str:
    return "" if width <= 0 else "\n\n" if width >= 2 else " "


def _locations(chunk: Chunk) -> list[Location]:
    return [Location.from_json(value) for value in chunk.locations]


# --- PDF: the page image ---------------------------------------------------------------


def page_images_root() -> Path:
    return Path(settings.DATA_DIR) / "page-images"


def page_images_dir(document_id: int) -> Path:
    return page_images_root() / str(document_id)


def delete_page_images(document_id: int) -> None:
    shutil.rmtree(page_images_dir(document_id), ignore_errors=True)


def page_image(document: Document, number: int) -> Path | None:
    """The PNG of page `number` (1-based), rendered on first use and kept; None when the
    document is not a PDF, its original is gone, or it has no such page."""
    if not is_pdf(document) or number < 1:
        return None
    target = page_images_dir(document.pk) / f"page-{number}@{RENDER_SCALE}x{MAX_SIDE_PIXELS}.png"
    if target.exists():
        return target
    with local_copy(document.stored_path) as original, _PDFIUM:
        if target.exists():  # rendered by another request while this one waited
            return target
        return _render(original, number, target)


def _render(original: Path, number: int, target: Path) -> Path | None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(original)
    try:
        if number > len(pdf):
            return None
        page = pdf[number - 1]
        scale = min(RENDER_SCALE, MAX_SIDE_PIXELS / max(page.get_width(), page.get_height()))
        image = page.render(scale=scale, draw_annots=True).to_pil()
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never gets half a PNG.
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".render-")
        try:
            with os.fdopen(fd, "wb") as temp:
                image.save(temp, format="PNG")
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return target
    finally:
        pdf.close()


# --- PDF: where the passage is on the page ---------------------------------------------


def pdf_page_view(chunk: Chunk, number: int, *, quote: str) -> PageView | None:
    """Page `number` of the chunk's PDF with the passage's boxes; None if no such page."""
    with local_copy(chunk.document.stored_path) as original, _PDFIUM:
        return _page_view(original, number, _texts_on_page(chunk, number), quote)


def _texts_on_page(chunk: Chunk, number: int) -> str:
    """The part of the passage's text that lies on page `number` (from its locations)."""
    locations = _locations(chunk)
    if not locations:  # a chunk stored before locations were kept: all of it, if in range
        in_range = (chunk.page_start or 0) <= number <= (chunk.page_end or chunk.page_start or 0)
        return chunk.text if in_range else ""
    parts = []
    for index, location in enumerate(locations):
        end = locations[index + 1].offset if index + 1 < len(locations) else len(chunk.text)
        if location.page == number:
            parts.append(chunk.text[location.offset:end])
    return "\n".join(parts)


def _page_view(original: Path, number: int, passage: str, quote: str) -> PageView | None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(original)
    try:
        if not 1 <= number <= len(pdf):
            return None
        page = pdf[number - 1]
        width, height = page.get_width(), page.get_height()
        textpage = page.get_textpage()
        letters, indices = _page_letters(textpage)
        boxes: list[Box] = []
        if letters:
            to_view = _converter(page, width, height)
            for sentence in _sentences(passage):
                if len(_fold(sentence)) >= MIN_BOXED_SENTENCE:
                    boxes += _boxes(textpage, letters, indices, sentence, to_view, quoted=False)
            if quote:
                boxes += _boxes(textpage, letters, indices, quote, to_view, quoted=True)
        return PageView(number, len(pdf), width, height, tuple(boxes), has_text=bool(letters),
                        holds_passage=bool(passage.strip()))
    finally:
        pdf.close()


def _fold(text: str) -> str:
    """Letters and digits only, compatibility-folded and case-folded: the form in which
    our parser's text and pdfium's text of the same words compare equal."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _page_letters(textpage) -> tuple[str, list[int]]:
    """The page's text in folded form, with the pdfium character index of each letter."""
    import pypdfium2.raw as pdfium_c

    letters: list[str] = []
    indices: list[int] = []
    for index in range(textpage.count_chars()):
        for letter in _fold(chr(pdfium_c.FPDFText_GetUnicode(textpage, index))):
            letters.append(letter)
            indices.append(index)
    return "".join(letters), indices


def _sentences(text: str) -> list[str]:
    return [span.text for span in sentence_spans(text)]


def _match(letters: str, needle: str) -> tuple[int, int] | None:
    """Where `needle` (folded) lies in the page's letters: all of it, else its longest
    prefix (a sentence that goes on over the page), else its longest suffix (one that
    began on the page before)."""
    if not needle:
        return None
    at = letters.find(needle)
    if at >= 0:
        return at, at + len(needle)
    if len(needle) < MIN_PARTIAL_MATCH:
        return None
    prefix = _longest(lambda n: letters.find(needle[:n]), len(needle))
    if prefix:
        at = letters.find(needle[:prefix])
        return at, at + prefix
    suffix = _longest(lambda n: letters.find(needle[-n:]), len(needle))
    if suffix:
        at = letters.find(needle[-suffix:])
        return at, at + suffix
    return None


def _longest(find, length: int) -> int:
    """The largest n in [MIN_PARTIAL_MATCH, length) with find(n) >= 0, or 0. Being found
    is monotonic in n (a shorter prefix of a found prefix is found), so bisect."""
    low, high, best = MIN_PARTIAL_MATCH, length - 1, 0
    while low <= high:
        middle = (low + high) // 2
        if find(middle) >= 0:
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best


def _widened(textpage, first: int, last: int) -> tuple[int, int]:
    """The match's character range with the punctuation that touches it (the full stop,
    an opening quote or bracket), which folding left out."""
    import pypdfium2.raw as pdfium_c

    def is_punctuation(index: int) -> bool:
        if not 0 <= index < textpage.count_chars():
            return False
        character = chr(pdfium_c.FPDFText_GetUnicode(textpage, index))
        return not character.isalnum() and not character.isspace() and character.isprintable()

    for _ in range(MAX_TOUCHING_PUNCTUATION):
        first -= is_punctuation(first - 1)
        last += is_punctuation(last + 1)
    return first, last


def _converter(page, width: float, height: float):
    """Page space (points, origin bottom left, unrotated) to the displayed page's space
    (points, origin top left, rotation and crop box applied), via pdfium's own mapping."""
    import pypdfium2 as pdfium

    # pdfium maps to whole device pixels: map to a 16x finer grid and scale back.
    fine = 16
    conv = pdfium.PdfPosConv(page, (0, 0, round(width * fine), round(height * fine), 0))

    def to_view(x: float, y: float) -> tuple[float, float]:
        device_x, device_y = conv.to_bitmap(x, y)
        return device_x / fine, device_y / fine

    return to_view


def _boxes(textpage, letters: str, indices: list[int], text: str, to_view, *,
           quoted: bool) -> list[Box]:
    found = _match(letters, _fold(text))
    if found is None:
        return []
    first, last = _widened(textpage, indices[found[0]], indices[found[1] - 1])
    boxes = []
    for rect in range(textpage.count_rects(first, last - first + 1)):
        left, bottom, right, top = textpage.get_rect(rect)
        (x0, y0), (x1, y1) = to_view(left, bottom), to_view(right, top)
        boxes.append(Box(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0), quoted))
    return boxes
