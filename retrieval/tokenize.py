"""Lexical tokens for BM25, for English, Korean and text that mixes them.

Every text is NFKC-normalised (full-width letters, compatibility jamo and ligatures fold
to one form) and case-folded. Words in Latin script lose English stop words and, when
asked, a light suffix stemmer merges plural/verb forms. Korean glues particles and endings
to words (서울이고, 서울에서), so Korean needs either
- "bigram": each Hangul run plus its character bigrams (서울이고 -> 서울이고 서울 울이 이고):
  no dictionary, robust to unknown names; or
- "kiwi": morphological analysis with kiwipiepy, keeping content morphemes only; or
- "kiwi+bigram": both token sets.
The default, "kiwi", was chosen by measurement on all 5,774 KorQuAD dev questions
(benchmarks/RESULTS.md): BM25 Recall@1 0.896 vs 0.871 for bigrams and 0.882 for
kiwi+bigram, Recall@5 0.981 vs 0.975 / 0.979, and better nDCG and MRR. Its costs (a model
of ~100 MB loaded once per process, ~1 ms per query, ~20x the bigram tokenizing time when
indexing, still well under the embedding time) are small next to embedding. Text without
Hangul never reaches kiwi, so English indexing is unchanged.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

KOREAN_MODES = ("bigram", "kiwi", "kiwi+bigram")

_WORD = re.compile(r"\w+")
_HANGUL_OR_NOT = re.compile(r"[\uac00-\ud7a3]+|[^\uac00-\ud7a3]+")
_HAS_HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Content morphemes: nouns, numerals, pronouns, verb/adjective stems, roots, foreign
# words, hanja, numbers, adverbs. Particles (J*), endings (E*) and affixes carry no topic.
_KIWI_KEEP = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "MAG")

_STOP_WORDS_TEXT = (
    "a an and are as at be been but by can could do does did for from had has have how i if "
    "in into is it its may might my no not of on or our so such than that the their them "
    "then there these they this those to was we were what when where which who whom why "
    "will with would you your"
)
ENGLISH_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


@dataclass(frozen=True)
class TokenizerConfig:
    korean: str = "kiwi"
    stem: bool = False
    stop_words: bool = True

    def __post_init__(self) -> None:
        if self.korean not in KOREAN_MODES:
            raise ValueError(f"korean must be one of {KOREAN_MODES}, not {self.korean!r}")

    @property
    def name(self) -> str:
        """Recorded in the lexical manifest: an index is only valid with the same tokens."""
        return f"v1;korean={self.korean};stem={int(self.stem)};stop={int(self.stop_words)}"


def tokenize(text: str, config: TokenizerConfig | None = None) -> list[str]:
    config = config or TokenizerConfig()
    text = unicodedata.normalize("NFKC", text).casefold()
    tokens: list[str] = []
    if config.korean != "bigram" and _HAS_HANGUL.search(text):
        for form, tag in _kiwi_morphemes(text):
            if tag.startswith(_KIWI_KEEP):
                tokens.extend(_latin(form, config) if tag == "SL" else [form])
        if config.korean == "kiwi":
            return tokens
        # kiwi+bigram: add the bigram tokens of Hangul runs only (Latin words are done).
        for word in _WORD.findall(text):
            for run in _HANGUL_OR_NOT.findall(word):
                if _HAS_HANGUL.match(run):
                    tokens.extend(_hangul(run))
        return tokens
    for word in _WORD.findall(text):
        for run in _HANGUL_OR_NOT.findall(word):
            tokens.extend(_hangul(run) if _HAS_HANGUL.match(run) else _latin(run, config))
    return tokens


def _hangul(run: str) -> list[str]:
    if len(run) <= 2:
        return [run]
    return [run, *(run[i:i + 2] for i in range(len(run) - 1))]


def _latin(word: str, config: TokenizerConfig) -> list[str]:
    word = word.strip("_")
    if not word or (config.stop_words and word in ENGLISH_STOP_WORDS):
        return []
    return [light_stem(word) if config.stem else word]


def light_stem(word: str) -> str:
    """Conservative English suffix stripping (plurals, -ing, -ed): merges the forms that
    matter for search without Porter's aggressive conflations (e.g. "university"/"universe")."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""),
                                ("es", ""), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)] + replacement
            # running -> runn -> run, so it meets "runs" -> run
            if suffix in ("ing", "ed") and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            return stem
    return word


_kiwi_guard = threading.Lock()


def _kiwi_morphemes(text: str) -> list[tuple[str, str]]:
    kiwi = _kiwi()
    with _kiwi_guard:  # one Kiwi object is not documented as thread-safe
        return [(token.form, token.tag) for token in kiwi.tokenize(text)]


@functools.cache
def _kiwi() -> Any:
    from kiwipiepy import Kiwi  # lazy: loads a ~100 MB model; only Korean text needs it

    return Kiwi()
