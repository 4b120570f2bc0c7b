"""PDF: the text layer page by page, with headings from the outline (bookmarks) when
the file has one, otherwise from font sizes. Pages without a text layer (scans) go
through OCR of their embedded images."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import Block, ParsedDocument
from ingestion.errors import EncryptedDocument, OcrUnavailable
from ingestion.ocr import ocr_image
from ingestion.parsers.common import HeadingStack, paragraph_blocks
from ingestion.text import clean_inline, normalize_text

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

    page.extract_text(visitor_text=visit)
    close()
    return lines


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


def _paragraphs(lines: list[_Line], widest: int) -> list[str]:
    """Join consecutive lines into paragraphs, breaking on a vertical gap and after a
    title line (see _ends_paragraph). `widest` is the longest line of the page, in
    characters."""
    paragraphs: list[list[str]] = []
    previous: _Line | None = None
    for line in lines:
        gap = abs(previous.y - line.y) if previous is not None else 0.0
        if previous is None or gap > max(line.size, previous.size) * 1.8 or gap == 0.0 \
                or _ends_paragraph(previous, widest):
            paragraphs.append([line.text])
        else:
            paragraphs[-1].append(line.text)
        previous = line
    return [" ".join(p) for p in paragraphs]


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


def parse_pdf(path: Path) -> ParsedDocument:
    reader = _open(path)
    pages = [_page_lines(page) for page in reader.pages]
    body = _body_size(pages)
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

        for line in lines:
            level: int | None = None
            if outline:
                if pending and _key(pending[0][1]) and _key(line.text) == _key(pending[0][1]):
                    level = pending.pop(0)[0]
                elif pending and not run and not any(b.page == number for b in blocks):
                    # Bookmarks whose title is not printed on the page start it anyway.
                    while pending:
                        lvl, title = pending.pop(0)
                        blocks.append(Block(title, page=number,
                                            heading_path=headings.push(lvl, title),
                                            kind="heading"))
            elif round(line.size, 1) in heading_sizes:
                level = heading_sizes.index(round(line.size, 1)) + 1
            if level is None:
                run.append(line)
                continue
            flush()
            if blocks and blocks[-1].kind == "heading" and blocks[-1].page == number and (
                not outline and headings.path and len(headings.path) == level
            ) and len(blocks[-1].text) + len(line.text) <= _MAX_HEADING_CHARS and (
                # A heading wrapped over two lines of the same size is one heading.
                blocks[-1].heading_path == headings.path
            ):
                merged = f"{blocks[-1].text} {line.text}"
                headings.push(level, merged)
                blocks[-1] = Block(merged, page=number, heading_path=headings.path,
                                   kind="heading")
                continue
            blocks.append(Block(line.text, page=number,
                                heading_path=headings.push(level, line.text), kind="heading"))
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
