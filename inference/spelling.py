"""Typos and other word forms in a question, spelled as the passages search found.

A mistyped word ("rebiuld", "indexs", "비밀번홀") is a word no document uses, so it weighs
most in the answerability measure (inference/answerability.py: a term the knowledge base
never uses is evidence the documents do not answer) and matches no sentence: a question
the documents answer was refused. Dense retrieval still finds the right passages for most
typos, and those passages hold the word meant; so each question word that none of them
contains and that is one edit away from a word they do contain is replaced by it. So is
a word they use in another form ("rebuild" where they say "rebuilds", "indexes" where
they say "index"): the lexical index and the answerability measure count words as
written.

One edit (insert, delete, substitute, or swap two neighbours: optimal string alignment,
rapidfuzz) and only for words of at least MIN_LETTERS letters (Hangul counted letter by
letter, as jamo), so a real word the documents lack ("contractors" next to "contracts")
stays and the question is still refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from textproc.tokens import STOP_WORDS, light_stem

_WORD = re.compile(r"\w+")  # words as the lexical index sees them: identifiers whole
_LETTERS = re.compile(r"[^\W\d_]+")  # the words inside an identifier (rebuild_indexes)
MIN_LETTERS = 5
_HANGUL = re.compile("[\uac00-\ud7a3]")
_LONE_JAMO = frozenset(chr(c) for c in range(0x3131, 0x318F))  # compatibility jamo (ㄱ, ㅏ)
MAX_EDITS = 1


def correct_typos(question: str, texts: Iterable[str]) -> str:
    """`question` with each word the texts spell differently in the texts' spelling: the
    same word in another form ("rebuild" where they say "rebuilds"), a word one edit away
    (a typo), or a typo of another form ("rebiuld" where they say "rebuilds"), the most
    frequent form first; everything else character for character. Returns `question`
    itself when nothing changed."""
    words = _Vocabulary(texts)
    return _WORD.sub(lambda match: words.spelling(match.group()), question)


class _Vocabulary:
    """The words of some texts as the lexical index counts them, plus the words inside
    identifiers, with the most frequent whole word per stem."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.surface: dict[str, str] = {}
        self.whole: set[str] = set()
        counts: Counter[str] = Counter()
        for text in texts:
            for token in _WORD.findall(text):
                self.whole.add(_letters(token))
                for word in {token, *_LETTERS.findall(token)}:
                    counts[_letters(word)] += 1
                    self.surface.setdefault(_letters(word), word)
        # Most frequent first: extractOne and the stem map keep the first of equals.
        self.keys = sorted(counts, key=lambda k: -counts[k])
        self.by_stem: dict[str, str] = {}
        for key in self.keys:
            if key in self.whole and key.isalpha():
                self.by_stem.setdefault(light_stem(key), key)

    def spelling(self, word: str) -> str:
        key = _letters(word)
        if (key in self.whole or not key.isalpha() or len(key) < MIN_LETTERS
                or word.casefold() in STOP_WORDS):
            return word
        meant = key if key in self.surface else self._one_edit(key)
        found = self.by_stem.get(light_stem(meant or key)) or meant
        if found is None or not _korean_typo(word, self.surface[found]):
            return word
        return self.surface[found].lower() if word.islower() else self.surface[found]

    def _one_edit(self, key: str) -> str | None:
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        match = process.extractOne(key, self.keys, scorer=OSA.distance, score_cutoff=MAX_EDITS)
        return match[0] if match else None


def _korean_typo(word: str, meant: str) -> bool:
    """Whether respelling a Korean word as `meant` can be a typo's fix (always true for
    other words). One letter changes a short Korean word into another word (보는 -> 또는,
    안에 -> 간에), and a change in the last syllable is a particle or an ending (메뉴에 ->
    메뉴의, 머리글은 -> 머리글을), which the lexical index reads either way: neither is
    respelled. A stray letter at the end (필터ㄹ) is a typo."""
    if not _HANGUL.search(word):
        return True
    if word[-1:] in _LONE_JAMO:
        return True
    shared = next((i for i, (a, b) in enumerate(zip(word, meant, strict=False)) if a != b),
                  min(len(word), len(meant)))
    return len(word) >= 3 and shared < min(len(word), len(meant)) - 1


@lru_cache(maxsize=65536)
def _letters(word: str) -> str:
    """Case-folded, Hangul syllables split into their letters (NFD), so one mistyped
    letter of a syllable is one edit. Cached: every question reads its passages' words
    again, before the first token of the answer."""
    return unicodedata.normalize("NFD", word.casefold())
