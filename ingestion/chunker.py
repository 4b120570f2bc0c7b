"""Split a parsed document into chunks for embedding and citation.

Invariant (tested): for every chunk, `extracted_text(doc)[c.char_start:c.char_end]`
is the passage the chunk covers, and `c.text` equals it, except for a chunk that
continues a table, whose text is the table's header line, a newline, then that
passage (the repeated header is the one thing not at those offsets). So a citation can
highlight exactly `char_start:char_end` in the extracted text.

Rules: chunks follow the document's structure (a chunk holds one section, i.e. one
heading path, except that a tiny section merges with its neighbours); each stays within
`max_tokens` by the caller's tokenizer; splits fall on sentence boundaries (words, then
characters, only for a sentence longer than the budget), and a list that is one sentence
(textproc.sentences.list_sentences: "To move ...:" / "1. ...;" / "2. ...") stays in one
chunk when it fits, so the extractive backend can quote it whole; consecutive chunks of one
section overlap by up to `overlap_tokens` of whole sentences; table chunks start with
the table's header.

Each chunk also carries its `locations`: where each page (a PDF page, a slide), section
(a sheet, a heading) or source line (a text file's line, a spreadsheet's row) starts
inside the chunk's text, so a citation names the page and line of the sentence it
quotes, not those the passage starts on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from ingestion.blocks import Block, ParsedDocument
from textproc.sentences import Span, list_sentences, sentence_spans

BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Location:
    """From `offset` (a character offset into the chunk's text) on, the chunk's text is
    on `page` (1-based page or slide; None where the format has none) under
    `heading_path` (the section, or the sheet of a spreadsheet), on source `line`
    (1-based line of a text, Markdown or CSV file, or row of a spreadsheet; None where
    the format has no lines: see Block.line)."""

    offset: int
    page: int | None
    heading_path: tuple[str, ...]
    line: int | None = None

    def as_json(self) -> list:
        return [self.offset, self.page, list(self.heading_path), self.line]

    @classmethod
    def from_json(cls, value: list) -> Location:
        """Also reads the three-element form stored before lines were kept."""
        offset, page, heading_path, *line = value
        return cls(int(offset), page, tuple(heading_path), line[0] if line else None)


def location_at(locations: list[Location], offset: int) -> Location | None:
    """The location of the character at `offset` in a chunk's text: the last one that
    starts at or before it (the first, for an offset inside a repeated table header).
    None when the chunk has no locations (chunks stored before they were kept)."""
    found = locations[0] if locations else None
    for location in locations:
        if location.offset > offset:
            break
        found = location
    return found


def quoted_location(text: str, locations: list[Location], quote: str) -> Location | None:
    """The location of `quote` (a sentence a citation quotes) inside a chunk's `text`;
    the chunk's first location when the quote is not found verbatim."""
    offset = text.find(quote.strip()) if quote.strip() else -1
    found = location_at(locations, max(offset, 0))
    if found is None or found.line is not None or offset >= 0:
        return found
    # Cited without a quote, a passage is placed at its start; when that is a sheet's
    # name (a heading on no row of its own), at the first row under it, so the place
    # still says "Prices, row 2" rather than nothing.
    below = next((location.line for location in locations
                  if location.offset >= found.offset and location.line is not None
                  and location.heading_path == found.heading_path), None)
    return replace(found, line=below) if below is not None else found


@dataclass(frozen=True)
class ChunkDraft:
    text: str
    page_start: int | None
    page_end: int | None
    heading_path: tuple[str, ...]
    char_start: int
    char_end: int
    token_count: int
    locations: tuple[Location, ...] = ()


@dataclass(frozen=True)
class _Unit:
    """The smallest piece the chunker packs: a sentence, a table row, a code line."""

    start: int
    end: int
    block: int  # index of the block it comes from
    header: str | None  # the table header, for table rows
    tokens: int = 0  # its own token count (0: not counted, as for a split piece)
    last_block: int = -1  # the block it ends in, when not `block` (a list of blocks)

    @property
    def end_block(self) -> int:
        return max(self.block, self.last_block)


def extracted_text(doc: ParsedDocument) -> str:
    """The document's text as one string: blocks joined by a blank line."""
    return BLOCK_SEPARATOR.join(block.text for block in doc.blocks)


def _block_offsets(blocks: list[Block]) -> list[int]:
    offsets, position = [], 0
    for block in blocks:
        offsets.append(position)
        position += len(block.text) + len(BLOCK_SEPARATOR)
    return offsets


def _split_long(
    text: str, start: int, end: int, count: Callable[[str], int], max_tokens: int
) -> list[tuple[int, int]]:
    """Split text[start:end] (one over-long sentence) at word boundaries, or at
    characters for scripts without spaces, into pieces within max_tokens."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    if len(words) == 1 or not words:
        words = [(i, i + 1) for i in range(start, end) if not text[i].isspace()]
    pieces: list[tuple[int, int]] = []
    piece_start, piece_end = words[0]
    for word_start, word_end in words[1:]:
        if count(text[piece_start:word_end]) <= max_tokens:
            piece_end = word_end
            continue
        pieces.append((piece_start, piece_end))
        piece_start, piece_end = word_start, word_end
    pieces.append((piece_start, piece_end))
    # A single word over the budget (a long URL, a run of CJK without spaces) is
    # split by characters.
    result: list[tuple[int, int]] = []
    for s, e in pieces:
        if count(text[s:e]) <= max_tokens or e - s <= 1:
            result.append((s, e))
            continue
        cursor = s
        while cursor < e:
            stop = cursor + 1
            while stop < e and count(text[cursor : stop + 1]) <= max_tokens:
                stop += 1
            result.append((cursor, stop))
            cursor = stop
    return result


def _units(
    doc: ParsedDocument,
    text: str,
    count: Callable[[str], int],
    max_tokens: int,
) -> list[_Unit]:
    units: list[_Unit] = []
    header: str | None = None
    for index, (block, offset) in enumerate(
        zip(doc.blocks, _block_offsets(doc.blocks), strict=True)
    ):
        if block.kind == "table_header":
            header = block.text
        elif block.kind != "table_row":
            header = None
        if block.kind in {"heading", "table_header", "table_row"}:
            spans = [(0, len(block.text))]
        elif block.kind == "code":
            spans = [(m.start(), m.end()) for m in re.finditer(r"[^\n]*\S[^\n]*", block.text)]
        else:
            spans = [(s.start, s.end) for s in sentence_spans(block.text)]
        for s, e in spans:
            start, end = offset + s, offset + e
            row_header = header if block.kind == "table_row" else None
            budget = max_tokens - (count(row_header + "\n") if row_header else 0)
            tokens = count(text[start:end])
            if tokens <= budget:
                units.append(_Unit(start, end, index, row_header, tokens))
            else:
                for ps, pe in _split_long(text, start, end, count, max(1, budget)):
                    units.append(_Unit(ps, pe, index, row_header))
    return _with_whole_lists(doc, text, units, count, max_tokens)


def _with_whole_lists(doc: ParsedDocument, text: str, units: list[_Unit],
                      count: Callable[[str], int], max_tokens: int) -> list[_Unit]:
    """`units` with each list that is one sentence (its lead-in and items, one block per
    item) made one unit, when it fits the budget and one section holds it: cut between
    two chunks, no passage holds the sentence and it cannot be quoted."""
    spans = [Span(u.start, u.end, text[u.start:u.end]) for u in units]
    for run in reversed(list_sentences(text, spans)):
        parts = units[run.start:run.stop]
        blocks = [doc.blocks[u.block] for u in parts]
        tokens = count(text[parts[0].start:parts[-1].end])
        if (tokens > max_tokens or any(b.kind not in {"paragraph", "list"} for b in blocks)
                or len({b.heading_path for b in blocks}) > 1):
            continue
        units[run.start:run.stop] = [_Unit(parts[0].start, parts[-1].end, parts[0].block,
                                           None, tokens, parts[-1].block)]
    return units


class _Packer:
    def __init__(self, text: str, count: Callable[[str], int], max_tokens: int) -> None:
        self.text = text
        self.count = count
        self.max_tokens = max_tokens

    def render(self, units: list[_Unit]) -> str:
        body = self.text[units[0].start : units[-1].end]
        first = units[0]
        # A chunk that starts inside a table, after its header, repeats the header.
        if first.header is not None:
            return f"{first.header}\n{body}"
        return body

    def fits(self, units: list[_Unit]) -> bool:
        return self.count(self.render(units)) <= self.max_tokens

    def pack(self, units: list[_Unit], overlap_tokens: int) -> list[list[_Unit]]:
        """Greedy packing of one section's units, with sentence overlap.

        Counting the growing chunk again for every sentence was most of the chunker's time
        (a document's text tokenised about nine times over). So a unit is taken on the sum
        of the chunk's and the unit's own counts while that sum stays a margin below the
        budget, and counted exactly only near it. Tokens of text joined at a space or a
        line break are the sum of the parts' for the tokenizers used, so the chunks are the
        exact packing's; every chunk is checked once, and a section where a sum was wrong
        is packed again counting every step."""
        chunks = self._greedy(units, overlap_tokens, estimate=True)
        if all(len(chunk) == 1 or self.fits(chunk) for chunk in chunks):
            return chunks
        return self._greedy(units, overlap_tokens, estimate=False)

    def _greedy(self, units: list[_Unit], overlap_tokens: int, *,
                estimate: bool) -> list[list[_Unit]]:
        margin = max(8, self.max_tokens // 16)
        chunks: list[list[_Unit]] = []
        current: list[_Unit] = []
        tokens = 0  # of current, exact or summed
        for unit in units:
            if not current:
                current, tokens = [unit], self.count(self.render([unit]))
                continue
            summed = tokens + unit.tokens
            if estimate and unit.tokens and summed + margin <= self.max_tokens:
                current.append(unit)
                tokens = summed
                continue
            joined = self.count(self.render([*current, unit]))
            if joined <= self.max_tokens:
                current.append(unit)
                tokens = joined
                continue
            chunks.append(current)
            current = [*self._overlap(current, unit, overlap_tokens), unit]
            tokens = self.count(self.render(current))
        if current:
            chunks.append(current)
        return chunks

    def _overlap(self, previous: list[_Unit], following: _Unit, overlap_tokens: int) -> list[_Unit]:
        """The tail of `previous` (whole units, at most overlap_tokens) to repeat at the
        start of the next chunk, if it still leaves room for `following`. Never the
        whole previous chunk: a chunk must not be contained in the next one."""
        tail: list[_Unit] = []
        for unit in reversed(previous[1:]):
            candidate = [unit, *tail]
            if self.count(self.render(candidate)) > overlap_tokens:
                break
            if not self.fits([*candidate, following]):
                break
            tail = candidate
        return tail


def _merged_path(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    """Heading path of chunks merged across sections: the deepest path when every
    other one is its prefix (a heading followed by its first subsection), else the
    headings they all share."""
    deepest = max(paths, key=len)
    if all(deepest[: len(p)] == p for p in paths):
        return deepest
    shared: list[str] = []
    for level in zip(*paths, strict=False):
        if len(set(level)) != 1:
            break
        shared.append(level[0])
    return tuple(shared)


def _block_lines(block: Block, offset: int) -> list[tuple[int, int | None]]:
    """(offset in the document's text, source line) where each of the block's lines
    starts; one entry with line None for a block without lines."""
    if block.line is None:
        return [(offset, None)]
    return [(offset, block.line), *((offset + at, block.line + i + 1)
                                    for i, at in enumerate(block.line_breaks))]


def _locations(doc: ParsedDocument, offsets: list[int], units: list[_Unit],
               header_length: int) -> tuple[Location, ...]:
    """Where each change of page, section or line falls in the text of the chunk made of
    `units`, whose text starts `header_length` characters of repeated table header
    before the passage. The first is where the passage starts (a chunk may start in
    the middle of a block, on one of its later lines)."""
    start, end = units[0].start, units[-1].end
    found: list[Location] = []
    for index in range(units[0].block, units[-1].end_block + 1):
        block = doc.blocks[index]
        for at, line in _block_lines(block, offsets[index]):
            if found and at >= end:
                break
            if found and (found[-1].page, found[-1].heading_path, found[-1].line) == (
                    block.page, block.heading_path, line):
                continue
            if at <= start:  # at or before the passage's start: where the chunk begins
                found[:] = [Location(0, block.page, block.heading_path, line)]
            else:
                found.append(Location(at - start + header_length, block.page,
                                      block.heading_path, line))
    return tuple(found)


def chunk_document(
    doc: ParsedDocument,
    count_tokens: Callable[[str], int],
    *,
    max_tokens: int = 256,
    overlap_tokens: int = 32,
) -> list[ChunkDraft]:
    """Chunks of `doc` (see the module docstring for the rules and the invariant).
    `count_tokens` is the embedding model's tokenizer, so the budget is the model's."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    # A chunk's text is counted again when checked, trimmed and recorded: remembered, each
    # distinct text is tokenised once (benchmarks/RESULTS.md, "A third machine, ...").
    count_tokens = functools.cache(count_tokens)
    text = extracted_text(doc)
    units = _units(doc, text, count_tokens, max_tokens)
    packer = _Packer(text, count_tokens, max_tokens)

    # Sections: maximal runs of units whose blocks share a heading path.
    sections: list[list[_Unit]] = []
    for unit in units:
        path = doc.blocks[unit.block].heading_path
        if sections and doc.blocks[sections[-1][-1].block].heading_path == path:
            sections[-1].append(unit)
        else:
            sections.append([unit])

    # (units, heading path, whole section?) per chunk, before merging tiny sections.
    pieces: list[tuple[list[_Unit], tuple[str, ...], bool]] = []
    for section in sections:
        path = doc.blocks[section[0].block].heading_path
        packed = packer.pack(section, overlap_tokens)
        for chunk_units in packed:
            pieces.append((chunk_units, path, len(packed) == 1))

    # A section smaller than this merges into a neighbouring chunk when both fit:
    # a lone heading or a one-line section embeds badly on its own.
    tiny = max(1, max_tokens // 4)
    merged: list[tuple[list[_Unit], list[tuple[str, ...]]]] = []
    previous_whole = False
    for chunk_units, path, whole in pieces:
        if merged:
            last_units, last_paths = merged[-1]
            candidate = [*last_units, *chunk_units]
            small = (previous_whole and count_tokens(packer.render(last_units)) < tiny) or (
                whole and count_tokens(packer.render(chunk_units)) < tiny
            )
            # The second part must not need its own repeated table header mid-chunk.
            if small and chunk_units[0].header is None and packer.fits(candidate):
                merged[-1] = (candidate, [*last_paths, path])
                previous_whole = previous_whole and whole
                continue
        merged.append((chunk_units, [path]))
        previous_whole = whole

    offsets = _block_offsets(doc.blocks)
    drafts = []
    for chunk_units, paths in merged:
        path = _merged_path(paths)
        start, end = chunk_units[0].start, chunk_units[-1].end
        blocks = range(chunk_units[0].block, chunk_units[-1].end_block + 1)
        pages = [doc.blocks[i].page for i in blocks if doc.blocks[i].page is not None]
        chunk_text = packer.render(chunk_units)
        header_length = len(chunk_text) - (end - start)
        drafts.append(
            ChunkDraft(
                text=chunk_text,
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                heading_path=path,
                char_start=start,
                char_end=end,
                token_count=count_tokens(chunk_text),
                locations=_locations(doc, offsets, chunk_units, header_length),
            )
        )
    return drafts
