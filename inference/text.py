"""Text helpers shared by the backends, the citation verifier and answerability:
a Unicode-aware tokenizer (words plus Hangul character bigrams), a sentence splitter
that handles Hangul and CJK punctuation, and a rough token estimate.

Kept free of retrieval/ on purpose: inference takes plain data and callables only.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+|[^\uac00-\ud7a3]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]")
_WHITESPACE = re.compile(r"\s+")

_STOP_WORDS_TEXT = (
    "a an and are as at be been but by can could do does did for from had has have how i if "
    "in into is it its may might my no not of on or our so such than that the their them "
    "then there these they this those to was we were what when where which who whom why "
    "will with would you your"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the form used for comparisons."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def tokenize(text: str, *, stop_words: bool = True) -> list[str]:
    """Words of any script; a Hangul run also yields its character bigrams, because Korean
    glues particles to words (서울에서 -> 서울에서 서울 울에 에서)."""
    tokens: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        for run in _HANGUL_RUN.findall(word):
            if _HANGUL.match(run):
                tokens.append(run)
                if len(run) > 2:
                    tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
            else:
                run = run.strip("_")
                if run and not (stop_words and run in STOP_WORDS):
                    tokens.append(run)
    return tokens


def approx_tokens(text: str) -> int:
    """A conservative LLM token estimate when no tokenizer is given: one per CJK/Hangul
    character, one per ~4 characters of other words, one per punctuation mark."""
    count = 0
    for piece in re.findall(r"\w+|[^\w\s]", text):
        cjk = len(_CJK_CHAR.findall(piece))
        rest = len(piece) - cjk
        count += cjk + (math.ceil(rest / 4) if rest else 0)
    return count


def hangul_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _HANGUL.match(c)) / len(letters)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str  # text[start:end] of the original, stripped


_TERMINAL = ".!?。！？…"
_CLOSERS = "\"'”’)]）」』】］"
_ABBREVIATIONS_TEXT = (
    "e.g i.e etc vs cf mr mrs ms dr prof st no fig eq approx dept inc ltd co jr sr"
)
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
# A citation marker right after the punctuation belongs to the sentence before it.
_MARKER_AFTER = re.compile(r"(?:\s*[\[［【][\s\d０-９,，、\-–—~]+[\]］】])+")


def split_sentences(text: str) -> list[Span]:
    """Sentence spans with offsets into `text`. Splits after . ! ? and CJK terminal
    punctuation when followed by space or end (not after common abbreviations or inside
    numbers), and at line breaks; markers like [1] after the punctuation stay with it."""
    spans: list[Span] = []
    for start, end in _raw_spans(text):
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        stripped = piece.strip()
        if stripped:
            spans.append(Span(start + lead, start + lead + len(stripped), stripped))
    return spans


def _raw_spans(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            yield start, i
            start = i + 1
            i += 1
            continue
        if ch in _TERMINAL:
            j = i + 1
            while j < n and (text[j] in _TERMINAL or text[j] in _CLOSERS):
                j += 1
            marker = _MARKER_AFTER.match(text, j)
            if marker:
                j = marker.end()
            cjk_stop = ch in "。！？"
            if (j >= n or text[j].isspace() or cjk_stop) and not _is_abbreviation(text, i):
                yield start, j
                start = j
                i = j
                continue
            i = j
            continue
        i += 1
    if start < n:
        yield start, n


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    k = dot
    while k > 0 and (text[k - 1].isalpha() or text[k - 1] == "."):
        k -= 1
    word = text[k:dot].casefold()
    if word in _ABBREVIATIONS:
        return True
    # A single capital letter ("J. Smith") is an initial, not a sentence end.
    return len(word) == 1 and text[dot - 1].isupper()
