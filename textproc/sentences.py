"""Sentence boundaries for English, Korean and CJK text, with offsets into the text.

The chunker packs these sentences into passages, the extractive backend quotes them and
the verifier checks an answer sentence by sentence; all three call `sentence_spans`, so a
quoted sentence is always one the chunker kept whole.

Rules, in order:
- a line break ends a sentence: parsers join hard-wrapped lines of a paragraph
  (`paragraph_blocks`), so a newline left in a text is structure (a heading above its
  paragraph, list items, an answer's bullet points);
- the full-width stops 。！？ (and the half-width ｡) end a sentence wherever they stand;
- . ? ! … end a sentence when whitespace or the end of the text follows, or when a
  CJK character follows a Korean sentence ending (다 요 죠 까) or another CJK character
  (Korean written without a space: "합니다.다음"), but not after a closing quote
  ('...있다."고 했다.': a quotation); so "3.5", "e.g.x" and "a.b.com" never split;
- closing quotes and brackets, and citation markers such as "[1]", stay with the
  sentence they follow;
- no split after a known abbreviation ("e.g.", "Dr."), initials ("J.", "U.S."), a list
  number at the start of a sentence ("1."), inside a Korean date ("2010. 3. 26."), or
  before a lowercase Latin word after ? ! … or a closing quote ('"Why?" she asked.'),
  nor before an opening bracket, a bar or a dash after an ellipsis (a command's synopsis:
  "rebuild_indexes [--kb SLUG ...] [--backend faiss|milvus]").

A sentence that a line break ends may still be open: a line ending with a comma,
semicolon or colon goes on in the next line (a list whose items make one sentence, the
lead-in of a list). `whole_sentences` says which spans a reader sees as whole sentences;
the extractive backend quotes only those, and `list_sentences` finds the lists that are one
sentence (a lead-in closed by a colon, items closed by semicolons or commas, the last by a
full stop), which it quotes whole and the verifier checks under the list's one marker.

Why own rules and not a library: pysbd has no Korean rules; kss and kiwipiepy's
split_into_sents analyse morphemes (a ~100 MB model, or a slow pure-Python analyser, per
process) for every text, English included, and the verifier splits every answer. These
rules replaced the chunker's and the verifier's own splitters; the comparison on KorQuAD
and the Python FAQ is in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from textproc.scripts import is_cjk, is_hangul

_ABBREVIATIONS_TEXT = (
    "mr mrs ms dr prof sr jr st vs etc e.g i.e cf inc ltd co corp no fig eq al approx dept "
    "est jan feb mar apr jun jul aug sep sept oct nov dec"
)
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
# Escapes: the typographic quotes look like ASCII ones to linters.
_CLOSERS = "\"'\u201d\u2019\u300d\u300f\u3011\u300b\u3009\uff09\uff3d)]}>"
# Declarative, polite and interrogative endings (합니다, 해요, 하죠, 할까).
_KOREAN_ENDINGS = "다요죠까"
_FULL_WIDTH_STOPS = "\u3002\uff01\uff1f\uff61"
_STOPS = ".?!\u2026\uff0e"
_CANDIDATE = re.compile(
    rf"\n|[{_FULL_WIDTH_STOPS}{_STOPS}]+[{re.escape(_CLOSERS)}]*"
)
# A citation marker of an answer ("[1]", "[1, 3]", "[2-4]", full-width "［１］", "【1】",
# "[1～3]"): its brackets, and the digits and separators inside. One definition for the
# splitter, the verifier and the answer stream's parser (inference.citations).
MARKER_OPENERS = "[\uff3b\u3010"
MARKER_CLOSERS = "]\uff3d\u3011"
MARKER_RANGE_DASHES = "\\-\u2013\u2014~\uff5e"  # escaped for a character class
MARKER_INNER = rf"\s\d\uff10-\uff19,\uff0c\u3001{MARKER_RANGE_DASHES}"
_MARKER = rf"[{re.escape(MARKER_OPENERS)}][{MARKER_INNER}]+[{re.escape(MARKER_CLOSERS)}]"
# A citation marker right after the punctuation belongs to the sentence before it.
_MARKER_AFTER = re.compile(rf"(?:[ \t]*{_MARKER})+")
_DATE = re.compile(r"(?:\d{4}|[\u2019']\d{2})\. ?\d{1,2}\. ?\d{1,2}\.?")
_LIST_NUMBER = re.compile(r"\d{1,3}|[ivxlcIVXLC]{1,4}")
_ELLIPSIS = re.compile(r"\.{2,}|\u2026")
# After an ellipsis these go on with the same sentence; a sentence never opens with them.
_NO_OPENER = frozenset("[{<|-")
# A line ending with one of these leaves its sentence open ("To move a deployment:",
# "1. build the new index;").
_OPEN_ENDS = frozenset(",;:\uff0c\uff1b\uff1a\u3001")
# ... and after these the next line is the same sentence's next item. A colon's next line
# opens the list it announced, and a list item may be a whole sentence ("1. Install it.").
_ITEM_ENDS = frozenset(",;\uff0c\uff1b\u3001")
_CONTINUED = "\\"  # a shell command's line continuation
_LEAD_IN_ENDS = frozenset(":\uff1a")
# A citation marker with the space before it; the verifier strips the same.
CITATION_MARKER = rf"\s*{_MARKER}"
# A citation marker closing an answer's line ("2. switch over. [1]") is not its text.
_ENDING_CHARS = 120
_MARKER_TAIL = re.compile(rf"(?:{CITATION_MARKER})+$")


@dataclass(frozen=True)
class Span:
    """One sentence: `text` is `source[start:end]`, without surrounding whitespace."""

    start: int
    end: int
    text: str


def sentence_spans(text: str) -> list[Span]:
    """The sentences of `text`, in order, with character offsets into `text`."""
    spans, start = [], 0
    for match in _CANDIDATE.finditer(text):
        if match.start() < start:  # inside a citation marker already taken
            continue
        end = _with_marker(text, match)
        if _ends_sentence(text, start, match, end):
            spans.append(_trimmed(text, start, end))
            start = end
    spans.append(_trimmed(text, start, len(text)))
    return [span for span in spans if span is not None]


def whole_sentences(spans: Sequence[Span]) -> list[bool]:
    """For each span of `sentence_spans`, whether a reader sees a whole sentence: not one
    whose line ends with a comma, semicolon or colon, nor the line after one ending with a
    comma or semicolon. Quoted alone, "1. rebuild the index into Milvus while the old one
    keeps serving;" is a step of a list that is one sentence, cut from its lead-in and
    its other steps. A command line ending with a backslash goes on in the next line, so
    neither is whole: "apikey create --name bot --kb hr \\" pasted alone waits for more."""
    ends = [span.text[-1] for span in spans]
    return [end not in _OPEN_ENDS and end != _CONTINUED
            and (i == 0 or (ends[i - 1] not in _ITEM_ENDS and ends[i - 1] != _CONTINUED))
            for i, end in enumerate(ends)]


def list_sentences(text: str, spans: Sequence[Span]) -> list[range]:
    """The lists of `text` that are one sentence, as ranges of indexes into `spans` (those
    of `sentence_spans(text)`): a lead-in closed by a colon, then one item per
    line closed by a semicolon or comma, the last by a full stop:

        To move a deployment from FAISS to Milvus (or back):
        1. rebuild the indexes into Milvus while the current store keeps serving;
        2. point every process at Milvus and restart it.

    A reader sees the run whole; its lines alone are cut from it (`whole_sentences`). A
    trailing citation marker is not part of a line's ending."""
    ends = [_ending(span.text)[-1:] for span in spans]
    runs, first = [], 0
    for i, end in enumerate(ends):
        if end in _OPEN_ENDS:
            continue
        if _is_list(text, spans[first:i + 1], ends[first:i + 1]):
            runs.append(range(first, i + 1))
        first = i + 1
    return runs


def _is_list(text: str, spans: Sequence[Span], ends: Sequence[str]) -> bool:
    """A lead-in closed by a colon, then items closed by a semicolon or comma, each on its
    own line, the last closed by a full stop. Without the lead-in, items at a passage's
    start may be the end of a list cut by the chunker."""
    items, last = ends[1:-1], _ending(spans[-1].text).rstrip(_CLOSERS)[-1:]
    own_lines = all("\n" in text[before.end:span.start] for before, span in pairwise(spans))
    return (ends[0] in _LEAD_IN_ENDS and bool(items) and all(e in _ITEM_ENDS for e in items)
            and own_lines and bool(last) and last in _STOPS + _FULL_WIDTH_STOPS)


def _ending(sentence: str) -> str:
    """The sentence's last characters without the citation markers after them; a bounded
    look-back keeps this linear in the text's length."""
    return _MARKER_TAIL.sub("", sentence[-_ENDING_CHARS:])


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` as strings (see `sentence_spans`)."""
    return [span.text for span in sentence_spans(text)]


def _with_marker(text: str, match: re.Match[str]) -> int:
    if match.group() == "\n":
        return match.end()
    marker = _MARKER_AFTER.match(text, match.end())
    return marker.end() if marker else match.end()


def _ends_sentence(text: str, start: int, match: re.Match[str], end: int) -> bool:
    stop = match.group()[0]
    if stop == "\n" or stop in _FULL_WIDTH_STOPS:
        return True
    if end < len(text) and not text[end].isspace():
        return _between_cjk(text, match, end)
    return not (_is_abbreviation(text, match.start())
                or _is_list_number(text, start, match.start())
                or _is_date_part(text, match.start())
                or _continues_lowercase(text, match, end)
                or _continues_after_ellipsis(text, match, end))


def _between_cjk(text: str, match: re.Match[str], after: int) -> bool:
    """'설치합니다.다음으로': Korean and CJK text often has no space after a full stop. But
    a closing quote followed by Hangul is a quotation ('...있다."고 답변했다.'): the
    particle continues the sentence."""
    stop = match.start()
    if match.group()[-1] in _CLOSERS or stop == 0 or not is_cjk(text[after]):
        return False
    before = text[stop - 1]
    # After Hangul only a sentence ending: "해.공군" (navy and air force) is one word.
    return before in _KOREAN_ENDINGS if is_hangul(before) else is_cjk(before)


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    # A bounded look-back keeps splitting linear in the text's length.
    window = text[max(0, dot - 32):dot]
    match = re.search(r"[\w.]+$", window)
    # "can't." ends a sentence: the "t" after an apostrophe is no initial.
    if match is None or window[match.start() - 1:match.start()] in ("'", "\u2019"):
        return False
    word = match.group().lower().rstrip(".")
    # Single letters are initials ("J. Smith", "U.S.", "D.C."), not sentence ends.
    parts = word.split(".")
    initials = all(len(part) == 1 and part.isascii() and part.isalpha() for part in parts)
    return word in _ABBREVIATIONS or initials


def _is_list_number(text: str, start: int, dot: int) -> bool:
    """'1. Install Python.': the "1." numbers the item; it does not end a sentence."""
    return dot - start <= 8 and bool(_LIST_NUMBER.fullmatch(text[start:dot].strip()))


def _is_date_part(text: str, dot: int) -> bool:
    """'2010. 3. 26.', '’13. 2. 2.': Korean dates put a full stop after each number."""
    if text[dot] != "." or not text[dot - 1:dot].isdigit():
        return False
    dates = _DATE.finditer(text, max(0, dot - 16), dot + 8)
    return any(date.start() <= dot < date.end() for date in dates)


def _continues_lowercase(text: str, match: re.Match[str], end: int) -> bool:
    """'"Why?" she asked.', 'begin with #! followed by': after ? ! … or a closing quote a
    lowercase word continues the sentence. Not after a bare full stop: there it starts
    one with a name written in lowercase ('the list. comp.lang.python is busy.')."""
    if match.group() == ".":
        return False
    following = text[end:end + 64].lstrip(" \t")
    return following[:1].isascii() and following[:1].islower()


def _continues_after_ellipsis(text: str, match: re.Match[str], end: int) -> bool:
    """'[--kb SLUG ...] [--backend NAME]': an ellipsis followed by a bracket, a bar or a
    dash elides arguments of a synopsis; no sentence opens with those."""
    if not _ELLIPSIS.match(match.group()):
        return False
    return text[end:end + 64].lstrip(" \t")[:1] in _NO_OPENER


def _trimmed(text: str, start: int, end: int) -> Span | None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return None
    lead = len(piece) - len(piece.lstrip())
    return Span(start + lead, start + lead + len(stripped), stripped)
