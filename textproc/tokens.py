"""Tokens for English, Korean and text that mixes them: the lexical index's terms, the
verifier's and the extractive backend's comparison words, and the model-token estimate.

Every text is NFKC-normalised (full-width letters, compatibility jamo and ligatures fold
to one form) and case-folded. Words in Latin script lose English stop words and, in the
lexical index, a light suffix stemmer merges plural/verb forms. Korean glues particles and endings
to words (서울이고, 서울에서), so Korean needs either
- "bigram": each Hangul run plus its character bigrams (서울이고 -> 서울이고 서울 울이 이고):
  no dictionary, robust to unknown names; or
- "kiwi": morphological analysis with kiwipiepy, keeping content morphemes only; or
- "kiwi+bigram": both token sets.
The lexical index's default, "kiwi", was chosen by measurement on all 5,774 KorQuAD dev
questions (benchmarks/RESULTS.md): BM25 Recall@1 0.896 vs 0.871 for bigrams and 0.882 for
kiwi+bigram, Recall@5 0.981 vs 0.975 / 0.979, and better nDCG and MRR. Its costs (a model
of ~100 MB loaded once per process, ~1 ms per query, ~20x the bigram tokenizing time when
indexing, still well under the embedding time) are small next to embedding. Text without
Hangul never reaches kiwi, so English indexing is unchanged. `match_tokens` (the answer
step's comparisons) uses bigrams: no model to load on the ask path, and a sentence is
compared with its own passage, where bigrams of the same words always meet.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textproc.scripts import HANGUL_SYLLABLES, count_cjk

KOREAN_MODES = ("bigram", "kiwi", "kiwi+bigram")

_WORD = re.compile(r"\w+")
_PIECE = re.compile(r"\w+|[^\w\s]")  # what approx_tokens counts
_HANGUL_OR_NOT = re.compile(f"[{HANGUL_SYLLABLES}]+|[^{HANGUL_SYLLABLES}]+")
_HAS_HANGUL = re.compile(f"[{HANGUL_SYLLABLES}]")
# Content morphemes: nouns, numerals, pronouns, verb/adjective stems, roots, foreign
# words, hanja, numbers, adverbs. Particles (J*), endings (E*) and affixes carry no topic.
_KIWI_KEEP = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "MAG")

_STOP_WORDS_TEXT = (
    "a an and are as at be been but by can could do does did for from had has have how i if "
    "in into is it its may might my no not of on or our so such than that the their them "
    "then there these they this those to was we were what when where which who whom why "
    "will with would you your"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


@dataclass(frozen=True)
class TokenizerConfig:
    """korean: one of KOREAN_MODES; stem: English light stemming (on for the lexical
    index: "password" meets "passwords"; python-faq hybrid Recall@1 0.877 -> 0.887,
    benchmarks/RESULTS.md); stop_words: drop English stop words. Raises ValueError for an
    unknown Korean mode."""

    korean: str = "kiwi"
    stem: bool = True
    stop_words: bool = True

    def __post_init__(self) -> None:
        if self.korean not in KOREAN_MODES:
            raise ValueError(f"korean must be one of {KOREAN_MODES}, not {self.korean!r}")

    @property
    def name(self) -> str:
        """Recorded in the lexical manifest: an index is only valid with the same tokens."""
        # v2: kiwi without its typo and multi-word dictionaries (_kiwi): an index built by
        # v1 may hold a multi-word token that queries no longer produce, so it is rebuilt.
        return f"v2;korean={self.korean};stem={int(self.stem)};stop={int(self.stop_words)}"


# The answer step's comparisons (match_tokens): dictionary-free, unstemmed.
MATCHING = TokenizerConfig(korean="bigram", stem=False)

# Names written as code: paths and flags (/readyz, /api/v1/ask, --sync), snake_case and
# CONSTANT_CASE (rebuild_indexes, CITEWISE_RECONCILE_SECONDS), Latin letters mixed with
# digits (E403, x86_64, IPv6) and CamelCase (HybridSearcher). A question that names one asks
# about that thing, and a sentence that only shares its parts ("reconciler", "seconds") or
# the question's other words ("reports") is about something else.
_IDENTIFIER = re.compile(
    r"(?<![\w/])(?:/|--?)\w[\w./-]*"
    r"|\b\w*_\w+\b"
    r"|\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{2,}\b"
    r"|\b[A-Z][a-z]+[A-Z]\w*\b")
_DEFINES = re.compile(r"[`'\")\]]*\s*(?:[:;=]|[-–—]\s)")
# How much more a named identifier weighs than another word of the question in the answer
# step's sentence scores (idf x this).
IDENTIFIER_WEIGHT = 3.0


def tokenize(text: str, config: TokenizerConfig | None = None) -> list[str]:
    """Lexical tokens of `text` in order (repeats kept), by `config` (default: kiwi)."""
    config = config or TokenizerConfig()
    text = unicodedata.normalize("NFKC", text).casefold()
    if config.korean != "bigram" and _HAS_HANGUL.search(text):
        tokens = _kiwi_tokens(text, config)
        if config.korean == "kiwi+bigram":
            tokens += [t for run in _hangul_runs(text) for t in _hangul(run)]
        return tokens
    tokens = []
    for word in _WORD.findall(text):
        for run in _HANGUL_OR_NOT.findall(word):
            tokens.extend(_hangul(run) if _HAS_HANGUL.match(run) else _latin(run, config))
    return tokens


def match_tokens(text: str) -> list[str]:
    """Dictionary-free tokens for comparing a sentence with a passage or a question:
    words without English stop words, and each Hangul run with its character bigrams."""
    return tokenize(text, MATCHING)


def named_identifiers(text: str, config: TokenizerConfig | None = None) -> list[frozenset[str]]:
    """The tokens (by `config`, default kiwi) of each name `text` writes as code, one set
    per name ("/etc/hosts" -> {"etc", "hosts"})."""
    config = config or TokenizerConfig()
    names = (frozenset(tokenize(match.group(), config)) for match in _IDENTIFIER.finditer(text))
    return [name for name in names if name]


def defined_identifiers(sentence: str, config: TokenizerConfig | None = None) -> frozenset[str]:
    """Tokens of the name a sentence defines, if it opens by defining one: a name written
    as code among its first three words, followed by ":", ";", "=" or a dash ("GET /readyz:
    200 when ...", "Variable: CITEWISE_X; Default: 60", "E403 - access denied"). A sentence
    that mentions the name in passing ("/readyz shows ...", "(/healthz, /readyz)") defines
    nothing."""
    match = _IDENTIFIER.search(sentence)
    if match is None or len(_WORD.findall(sentence[:match.start()])) > 2:
        return frozenset()
    if not _DEFINES.match(sentence[match.end():]):
        return frozenset()
    return frozenset(tokenize(match.group(), config or TokenizerConfig()))


def asked_names(question: str) -> list[frozenset[str]]:
    """The names a question writes as code, each as its light-stemmed MATCHING tokens:
    what defines_name compares a sentence's defined name with."""
    return [frozenset(map(light_stem, name)) for name in named_identifiers(question, MATCHING)]


def defines_name(sentence: str, names: Sequence[frozenset[str]]) -> bool:
    """The sentence opens by defining one of `names` (asked_names), the whole name:
    "file: /etc/mailname; ..." shares "etc" with "/etc/hosts" and defines another file."""
    defined = frozenset(map(light_stem, defined_identifiers(sentence, MATCHING)))
    return bool(defined) and defined in names


def word_count(text: str) -> int:
    """Words as a reader counts them, stop words included ("Alcohol is not reimbursed." has
    four): how long a fragment is, whatever its content words."""
    return len(_WORD.findall(text))


def approx_tokens(text: str) -> int:
    """A conservative LLM token estimate when no tokenizer is given: one per CJK/Hangul
    character, one per ~4 characters of other words, one per punctuation mark."""
    pieces = _PIECE.findall(text)
    if not count_cjk(text):  # the common case, without a per-piece CJK scan
        return sum((len(piece) + 3) // 4 for piece in pieces)
    count = 0
    for piece in pieces:
        cjk = count_cjk(piece)
        rest = len(piece) - cjk
        count += cjk + (math.ceil(rest / 4) if rest else 0)
    return count


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


def _kiwi_tokens(text: str, config: TokenizerConfig) -> list[str]:
    tokens: list[str] = []
    for form, tag in _kiwi_morphemes(text):
        if tag.startswith(_KIWI_KEEP):
            tokens.extend(_latin(form, config) if tag == "SL" else [form])
    return tokens


def _hangul_runs(text: str) -> list[str]:
    return [run for word in _WORD.findall(text) for run in _HANGUL_OR_NOT.findall(word)
            if _HAS_HANGUL.match(run)]


def _hangul(run: str) -> list[str]:
    if len(run) <= 2:
        return [run]
    return [run, *(run[i:i + 2] for i in range(len(run) - 1))]


def _latin(word: str, config: TokenizerConfig) -> list[str]:
    word = word.strip("_")
    if not word or (config.stop_words and word in STOP_WORDS):
        return []
    return [light_stem(word) if config.stem else word]


_kiwi_guard = threading.Lock()


def _kiwi_morphemes(text: str) -> list[tuple[str, str]]:
    kiwi = _kiwi()
    with _kiwi_guard:  # one Kiwi object is not documented as thread-safe
        return [(token.form, token.tag) for token in kiwi.tokenize(text)]


@functools.cache
def _kiwi() -> Any:
    from kiwipiepy import Kiwi  # lazy: loads a ~100 MB model; only Korean text needs it

    # Without the typo-correction and multi-word dictionaries: they nearly doubled the time to
    # load and to analyse the first text (once per process) and changed none of the
    # Korean Debian passages' tokens, nor KorQuAD's BM25 recall (benchmarks/RESULTS.md,
    # "A third machine, padding, ...").
    return Kiwi(load_typo_dict=False, load_multi_dict=False)
