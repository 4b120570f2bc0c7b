"""Plain text: paragraphs separated by blank lines, and the headings people type in
text files: underlined lines ("Title" over "====="), numbered titles ("1.2 Scope"),
Korean chapter and article titles ("제1장 총칙", "제3조(목적)"), "Chapter 2" and short
title lines standing alone. A heading becomes its own block and the heading path of
what follows, so it is never glued to the first sentence after it."""

from __future__ import annotations

import re
from pathlib import Path

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import HeadingStack, line_breaks, numbered_lines
from textproc.encoding import decode_bytes
from textproc.normalize import clean_inline

_UNDERLINE = re.compile(r"^(=+|-+|~+|\*+|\^+)$")
_UNDERLINE_LEVELS = {"=": 1, "-": 2}
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(\S.*)$")
_WORD_NUMBERED = re.compile(
    r"^(Chapter|CHAPTER|Part|PART|Appendix|APPENDIX|Section|SECTION)\s+([\dIVXLC]+|[A-Z])\b[.:]?")
_WORD_LEVELS = {"chapter": 1, "part": 1, "appendix": 1, "section": 2}
# Korean statutes, company rules and manuals: 편/장 > 절 > 관 > 조. An article line often
# carries its first sentence after the bracketed title: "제3조(목적) 이 규정은 ...".
_KOREAN = re.compile(r"^(제\s*\d+\s*(편|장|절|관|조)(?:의\s*\d+)?)(?=[\s(\[（【「]|$)\s*(.*)$")
_KOREAN_LEVELS = {"편": 1, "장": 1, "절": 2, "관": 3, "조": 3}
_BRACKETED = re.compile(r"^([(\[（【「][^)\]）】」]{1,40}[)\]）】」])\s*(.*)$")
# A title is short and ends without the punctuation or the Korean endings of a sentence.
_MAX_TITLE_CHARS = 80
_SENTENCE_END = re.compile(r"([.?!。？！…:;,、]|[다요죠까])$")
_FULL_STOP = re.compile(r"([.?!。？！…:]|[다요죠까])$")
# A line ending in a Korean particle or connective or an English function word is a
# wrapped sentence ("이 절의 내용은" over "제1장에서 설명한 바와 같다.", "Submit the claim
# within" over "3 days of purchase."), not a title. Korean endings that also end common
# nouns (가 휴가, 과 결과, 서 신청서, 의 회의) are left out.
_CONTINUES = re.compile(
    r"(은|는|을|를|에|와|및|며|으로|에서|에게)$|\b(a|an|the|and|or|of|to|in|on|at|by|for|with|"
    r"within|from|into|is|are|be|that|which|your|our|their|its)$", re.IGNORECASE)
_BULLET = re.compile(r"^([-*+•·○●▪■□◦]|\(?\d+\)|[a-z]\))\s")
# A list item also starts "1." ("1. Open the client."), which a numbered title does too:
# titles are told apart first (`_numbered_heading`).
_LIST_ITEM = re.compile(rf"{_BULLET.pattern}|^\d+[.)]\s")


def _is_title_text(text: str) -> bool:
    return (0 < len(text) <= _MAX_TITLE_CHARS and not _SENTENCE_END.search(text)
            and not _CONTINUES.search(text) and any(char.isalpha() for char in text)
            and not _BULLET.match(text) and "://" not in text)


def _korean_heading(line: str) -> tuple[int, str, str] | None:
    """(level, heading, text after it on the same line) of a Korean numbered title."""
    match = _KOREAN.match(line)
    if match is None:
        return None
    number, unit, rest = match.groups()
    bracketed = _BRACKETED.match(rest)
    if bracketed:
        return _KOREAN_LEVELS[unit], f"{number}{bracketed.group(1)}", bracketed.group(2)
    if _is_title_text(rest) or not rest:
        return _KOREAN_LEVELS[unit], line, ""
    return _KOREAN_LEVELS[unit], number, rest


def _numbered_heading(line: str) -> tuple[int, str] | None:
    """(level, heading) of "1.2 Scope" or "Chapter 2: Setup"; None for a numbered
    sentence or list item ("1. Submit the form.")."""
    if not _is_title_text(line):
        return None
    words = _WORD_NUMBERED.match(line)
    if words:
        return _WORD_LEVELS[words.group(1).lower()], line
    numbered = _NUMBERED.match(line)
    if numbered is None or not numbered.group(2)[0].isalpha():
        return None
    # "1 Introduction" is a title; "3 days of purchase" is a wrapped line of a sentence.
    dotted = "." in line[: numbered.end(1) + 1]
    if dotted or not numbered.group(2)[0].islower():
        return numbered.group(1).count(".") + 1, line
    return None


class _TextParser:
    """Collects blocks paragraph by paragraph; headings found by their line shape."""

    def __init__(self) -> None:
        self.headings = HeadingStack()
        self.blocks: list[Block] = []
        # Level of the last numbered or underlined heading: a bare title line below it is
        # one level deeper, and bare title lines are siblings of each other.
        self.structured_level = 1
        # The file's line being read, and the one the body being collected starts on.
        self.number = 0
        self.body_start = 0

    def heading(self, level: int, text: str, *, structured: bool = True) -> None:
        text = clean_inline(text)
        if structured:
            self.structured_level = level
        self.blocks.append(Block(text, heading_path=self.headings.push(level, text),
                                 kind="heading", line=self.number))

    def body(self, lines: list[str]) -> None:
        """One block of the lines so far: a list item when it starts with a bullet or a
        number (its wrapped lines follow it), else a paragraph."""
        text = clean_inline(" ".join(lines))
        if text:
            kind = "list" if _LIST_ITEM.match(lines[0]) else "paragraph"
            self.blocks.append(Block(text, heading_path=self.headings.path, kind=kind,
                                     line=self.body_start,
                                     line_breaks=line_breaks(text, lines, clean_inline)))
        lines.clear()

    def paragraph(self, lines: list[str], first_line: int) -> None:
        """One run of non-blank lines, the first on line `first_line` of the file."""
        self.number = first_line
        if _is_bare_title(lines):
            self.bare_title(lines[0])
            lines, first_line = lines[1:], first_line + 1
        body: list[str] = []
        i = 0
        while i < len(lines):
            following = lines[i + 1] if i + 1 < len(lines) else None
            self.number = first_line + i
            i += self.line(lines[i], following, body)
        self.body(body)

    def add_to_body(self, body: list[str], text: str) -> None:
        if not body:
            self.body_start = self.number
        body.append(text)

    def line(self, line: str, following: str | None, body: list[str]) -> int:
        """Take `line` into `body` or as a heading; returns how many lines it used (two
        for a title over its underline)."""
        if following and _UNDERLINE.match(following) and _is_title_text(line):
            self.body(body)
            # An underlined line opening the file is its title, like a bare one.
            opening = not self.blocks
            self.heading(0 if opening else _UNDERLINE_LEVELS.get(following[0], 3), line,
                         structured=not opening)
            return 2
        # A line after one that does not end a sentence continues it.
        found = _line_heading(line, following) if _ends_sentence(body) else None
        if found is None:
            if _LIST_ITEM.match(line):
                self.body(body)
            self.add_to_body(body, line)
            return 1
        self.body(body)
        self.heading(found[0], found[1])
        if found[2]:
            self.add_to_body(body, found[2])
        return 1

    def bare_title(self, line: str) -> None:
        """A short line standing alone: the document's title when it comes first (level
        0, so numbered chapters nest under it), else a section title one level under
        the last numbered heading."""
        if not self.blocks:
            self.heading(0, line, structured=False)
        else:
            self.heading(min(6, self.structured_level + 1), line, structured=False)


def _line_heading(line: str, following: str | None) -> tuple[int, str, str] | None:
    """(level, heading, text left after it on the line) when `line` is a numbered or
    Korean title; None otherwise."""
    korean = _korean_heading(line)
    if korean is not None:
        return korean
    numbered = _numbered_heading(line)
    # A run of numbered lines at one depth is a list, not a series of headings; a next
    # line in lower case continues a numbered sentence ("5.1. The rights ... terminate
    # automatically" over "if You fail to comply").
    if numbered is None or (following and (_same_depth(line, following)
                                           or following[:1].islower())):
        return None
    return numbered[0], numbered[1], ""


def _is_bare_title(lines: list[str]) -> bool:
    """A short unnumbered title line: alone in its paragraph, or glued above a much
    longer line that does not continue it ("연차 휴가 규정" over the first rule). A
    hard-wrapped sentence's next line starts in lower case or is not much longer."""
    first = lines[0]
    if not _is_title_text(first) or _numbered_heading(first) or _korean_heading(first):
        return False
    if len(lines) == 1:
        return True
    following = lines[1]
    if _UNDERLINE.match(following) or following[:1].islower():
        return False
    return len(first) <= 40 and len(first) <= 0.6 * len(following)


def _ends_sentence(body: list[str]) -> bool:
    return not body or bool(_FULL_STOP.search(body[-1]))


def _same_depth(line: str, following: str) -> bool:
    this, that = _NUMBERED.match(line), _NUMBERED.match(following)
    return bool(this and that and this.group(1).count(".") == that.group(1).count("."))


def parse_text(path: Path) -> ParsedDocument:
    """Blocks of a text file: headings (see the module docstring) and paragraphs whose
    hard-wrapped lines are joined."""
    parser = _TextParser()
    paragraph: list[str] = []
    lines = numbered_lines(decode_bytes(path.read_bytes()))
    for number, line in [*lines, (len(lines) + 1, "")]:  # a blank line ends the last
        if line:
            paragraph.append(line)
        elif paragraph:
            parser.paragraph(paragraph, first_line=number - len(paragraph))
            paragraph = []
    blocks = parser.blocks
    title = blocks[0].text if blocks and blocks[0].kind == "heading" else None
    return ParsedDocument(blocks=blocks, detected_type="text", page_count=None, title=title)
