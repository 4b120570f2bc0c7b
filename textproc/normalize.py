"""Two forms of text: the stored form (what a person reads and a citation highlights)
and the folded form (what comparisons use)."""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u2060\ufeff\u00ad"), None)
# Runs of spaces become one plain space. The patterns leave a lone plain space alone
# (matching it would change nothing): re.sub keeps a piece per match until it joins
# them, and one per word made a 50 MB line need 800 MB.
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]{2,}"
                     r"|[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s{2,}|[^\S ]")


def normalize_text(text: str) -> str:
    """The stored form. NFC (not NFKC/NFKD: decomposing would split Hangul syllables into
    jamo and change full-width punctuation a reader sees), no control or zero-width
    characters, one kind of line ending and space, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n\n").translate(_ZERO_WIDTH)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def clean_inline(text: str) -> str:
    """The stored form on one line: for headings, table cells, titles."""
    return collapse_whitespace(normalize_text(text))


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (newlines too) becomes one space; ends trimmed."""
    return _WHITESPACE.sub(" ", text).strip()


def fold(text: str) -> str:
    """The comparison form: NFKC (full-width letters and digits fold to ASCII),
    case-folded, whitespace collapsed. Never shown to a person."""
    return collapse_whitespace(unicodedata.normalize("NFKC", text).casefold())


# A section number opening a heading: "8.1.4. ", "A.4. ", "7.8.2 ", "Chapter 8. ".
_SECTION_NUMBER = re.compile(r"^(?:(?:Chapter|Section|Appendix|Part)\s+)?"
                             r"(?:\d+(?:\.\d+)*\.?|[A-Z](?:\.\d+)*\.)\s+")


def without_section_number(heading: str) -> str:
    """The heading without the section number it opens with ("8.1.4. Localized messages"
    -> "Localized messages"; "A.4. Building" -> "Building"; "Python" unchanged)."""
    return _SECTION_NUMBER.sub("", heading, count=1) or heading
