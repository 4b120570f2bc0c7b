"""Markdown, parsed line by line (no library: the block structure is all we need).
ATX and setext headings become the heading path; fenced and indented code is kept
verbatim as code blocks; list items and pipe tables get their own kinds. Front matter
(YAML between "---" lines, TOML between "+++", as Jekyll, Hugo, MkDocs and Obsidian
write it) is metadata: its title becomes the document's title, and none of it is prose.
HTML comments are left out: nobody reading the rendered page sees them."""

from __future__ import annotations

import re
from pathlib import Path

from ingestion.blocks import Block, ParsedDocument
from ingestion.parsers.common import HeadingStack, line_breaks, table_blocks
from textproc.encoding import decode_bytes
from textproc.normalize import clean_inline

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# An ordered item keeps its number ("2. Run ..."): the reader sees it, and text such as
# "repeat step 2" refers to it. A bullet is dropped.
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|(\d+[.)]))[ \t]+(.*)$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> link text
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
)


def _inline(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return clean_inline(text)


# A line that is all bold is a title people write instead of a heading ("**Approval**",
# FAQ questions "**Q. 비밀번호는 어떻게 바꾸나요?**"): it heads the text below it rather
# than being glued to its first sentence. It sits below any # heading (level 6), so the
# next one replaces it.
_BOLD_LINE = re.compile(r"^ {0,3}(\*\*|__)(?!\s)([^*_]{1,120}?)\1[ \t]*:?[ \t]*$")
_BOLD_LEVEL = 6
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FRONT_MATTER = re.compile(r"\A(---|\+\+\+)[ \t]*\n(.*?)\n(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)",
                           re.DOTALL)


def _front_matter(text: str) -> tuple[dict, str]:
    """(metadata, the rest of the text). Text that only looks like front matter (a
    thematic break, then prose) is left alone: it must parse as a mapping."""
    import tomllib

    import yaml

    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    load = tomllib.loads if match.group(1) == "+++" else yaml.safe_load
    try:
        data = load(match.group(2))
    except (ValueError, yaml.YAMLError):  # TOMLDecodeError is a ValueError
        return {}, text
    if not isinstance(data, dict):
        return {}, text
    return data, text[match.end():]


def _without_comments(text: str) -> str:
    """The text without HTML comments; a comment's line breaks stay, so that every line
    keeps its number."""
    return _COMMENT.sub(lambda comment: "\n" * comment.group().count("\n"), text)


def _code_block(code: list[str], first_line: int, path: tuple[str, ...]) -> Block | None:
    """A code block of `code` (its lines, the first on line `first_line`), blank lines
    around it left out; None when it holds nothing."""
    leading = next((i for i, line in enumerate(code) if line.strip()), None)
    if leading is None:
        return None
    text = "\n".join(code[leading:]).rstrip("\n")
    breaks = tuple(match.end() for match in re.finditer("\n", text))
    return Block(text, heading_path=path, kind="code", line=first_line + leading,
                 line_breaks=breaks)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


# One pass over the lines whose branches share its state (the open fence, table, list and
# heading path); split, that state would travel through every helper.
def parse_markdown(path: Path) -> ParsedDocument:  # noqa: C901, PLR0915
    whole = decode_bytes(path.read_bytes()).replace("\r\n", "\n")
    metadata, text = _front_matter(whole)
    # Line i of `lines` is line i + 1 + skipped of the file (Block.line).
    skipped = whole[:len(whole) - len(text)].count("\n")
    lines = _without_comments(text).split("\n")
    headings = HeadingStack()
    blocks: list[Block] = []
    paragraph: list[str] = []
    paragraph_line = 0
    title = clean_inline(str(metadata["title"])) if metadata.get("title") else None

    def flush() -> None:
        text = _inline(" ".join(paragraph))
        if text:
            blocks.append(Block(text, heading_path=headings.path, line=paragraph_line,
                                line_breaks=line_breaks(text, paragraph, _inline)))
        paragraph.clear()

    def heading(level: int, text: str, line: int) -> None:
        nonlocal title
        text = _inline(text)
        if not text:
            return
        if level == 1 and title is None:
            title = text
        blocks.append(Block(text, heading_path=headings.push(level, text), kind="heading",
                            line=line))

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        number = i + 1 + skipped
        if fence:
            flush()
            marker, code = fence.group(1), []
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith(marker):
                code.append(lines[i])
                i += 1
            blocks.extend(filter(None, [_code_block(code, number + 1, headings.path)]))
        elif (atx := _ATX.match(line)) is not None:
            flush()
            heading(len(atx.group(1)), atx.group(2), number)
        elif paragraph and _SETEXT.match(line) and len(paragraph) == 1:
            text = paragraph.pop()
            heading(1 if line.strip().startswith("=") else 2, text, paragraph_line)
        elif "|" in line and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            flush()
            rows, row_lines = [_cells(line)], [number]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                row_lines.append(i + 1 + skipped)
                i += 1
            blocks.extend(table_blocks([[_inline(c) for c in r] for r in rows],
                                       heading_path=headings.path, lines=row_lines,
                                       marked_header=True))
            continue
        elif (item := _LIST_ITEM.match(line)) is not None:
            flush()
            item_lines = [" ".join(filter(None, item.groups()))]
            # Continuation lines of the same item are indented and not a new item.
            while (i + 1 < len(lines) and lines[i + 1].startswith(("  ", "\t"))
                   and not _LIST_ITEM.match(lines[i + 1])):
                i += 1
                item_lines.append(lines[i])
            if joined := _inline(" ".join(item_lines)):
                blocks.append(Block(joined, heading_path=headings.path, kind="list", line=number,
                                    line_breaks=line_breaks(joined, item_lines, _inline)))
        elif line.startswith(("    ", "\t")) and not paragraph and line.strip():
            code = []
            while i < len(lines) and (lines[i].startswith(("    ", "\t")) or not lines[i].strip()):
                code.append(lines[i][4:] if lines[i].startswith("    ") else lines[i][1:])
                i += 1
            blocks.extend(filter(None, [_code_block(code, number, headings.path)]))
            continue
        elif not line.strip():
            flush()
        elif not paragraph and (bold := _BOLD_LINE.match(line)) is not None:
            heading(_BOLD_LEVEL, bold.group(2), number)
        else:
            paragraph_line = paragraph_line if paragraph else number
            paragraph.append(line.strip().lstrip(">").strip())
        i += 1
    flush()
    return ParsedDocument(blocks=blocks, detected_type="markdown", page_count=None, title=title)
