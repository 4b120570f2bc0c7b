"""Typos in a question, corrected against the words of the passages search found.

A mistyped word ("rebiuld", "indexs", "비밀번홀") is a word no document uses, so it weighs
most in the answerability measure (inference/answerability.py: a term the knowledge base
never uses is evidence the documents do not answer) and matches no sentence: a question
the documents answer was refused. Dense retrieval still finds the right passages for most
typos, and those passages hold the word meant; so each question word that none of them
contains and that is one edit away from a word they do contain is replaced by it.

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

from textproc.tokens import STOP_WORDS

_WORD = re.compile(r"[^\W\d_]+")  # letters only: numbers and identifiers stay as typed
MIN_LETTERS = 5
MAX_EDITS = 1


def correct_typos(question: str, texts: Iterable[str]) -> str:
    """`question` with each mistyped word replaced by the most frequent word of `texts`
    one edit away; everything else character for character. Returns `question` itself
    when nothing was corrected."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    surface: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for text in texts:
        for word in _WORD.findall(text):
            key = _letters(word)
            counts[key] += 1
            surface.setdefault(key, word)
    # Most frequent first: extractOne keeps the first of equally distant candidates.
    choices = sorted(counts, key=lambda k: -counts[k])

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        key = _letters(word)
        if key in counts or len(key) < MIN_LETTERS or word.casefold() in STOP_WORDS:
            return word
        found = process.extractOne(key, choices, scorer=OSA.distance, score_cutoff=MAX_EDITS)
        if not found:
            return word
        return surface[found[0]].lower() if word.islower() else surface[found[0]]

    return _WORD.sub(fix, question)


def _letters(word: str) -> str:
    """Case-folded, Hangul syllables split into their letters (NFD), so one mistyped
    letter of a syllable is one edit."""
    return unicodedata.normalize("NFD", word.casefold())
