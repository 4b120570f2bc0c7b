"""Which language a text is in, and what a set of documents is written in.

Identification is py3langid's (a naive Bayes model that ships in its wheel: no download,
the same answer every run), restricted to the languages the multilingual embedding model
reads. Restricted, it reads short text far better: unrestricted, it calls "apt-get
install" Breton and "OK" Serbian. The decision it feeds only chooses between the English
and the multilingual model, so a language outside the set costs nothing but its name.

A document's profile counts the letters of its sampled text per language; profiles add
up over a knowledge base, and `decide` names its language from the sum.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# ISO 639-1 code -> English name: the languages of Universal Sentence Encoder
# multilingual v3, Citewise's multilingual embedding model.
LANGUAGES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "ru": "Russian", "th": "Thai", "tr": "Turkish", "zh": "Chinese",
}
MIXED = "mixed"
UNDETERMINED = "und"  # text too short or too ambiguous to name (one word, a code)
MIN_CONFIDENCE = 0.3  # py3langid's probability below which a window counts as "und"
WINDOW_LETTERS = 40  # lines are joined until a window holds this many letters
SAMPLE_LETTERS = 20_000  # per document, windows spread evenly over the whole text
ENGLISH_ONLY = 0.9  # English only when it holds this share: the English model reads no other
MAJORITY = 0.8  # another language names a set from this share on; below, it is "mixed"

_LETTER = re.compile(r"[^\W\d_]")


def letter_count(text: str) -> int:
    """Letters of any script in `text` (no digits, punctuation or spaces)."""
    return len(_LETTER.findall(text))


_loading = threading.Lock()


def _identifier() -> Any:
    with _loading:  # one load, however many threads ask at once
        return _load_identifier()


def load_in_background() -> None:
    """Start loading the identifier's model (~1.3 s, mostly LZMA decompression, which
    releases the GIL) in a daemon thread, for a caller that will identify text after a
    wait of its own (ingestion, while its first document is parsed). Nothing when it is
    loaded already."""
    if _load_identifier.cache_info().currsize:
        return
    threading.Thread(target=_identifier, name="language-model", daemon=True).start()


@cache
def _load_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # ~1.5 s to load: lazily

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def identify(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability 0-1) of the language of `text`; ("und", 0.0) when it
    has no letters or the best guess is below MIN_CONFIDENCE."""
    if not letter_count(text):
        return UNDETERMINED, 0.0
    code, probability = _identifier().classify(text)
    if probability < MIN_CONFIDENCE:
        return UNDETERMINED, 0.0
    return str(code), float(probability)


@dataclass(frozen=True)
class LanguageProfile:
    """Letters of sampled text per language code ("und" included), over `documents`."""

    letters: Mapping[str, int] = field(default_factory=dict)
    documents: int = 0

    def __add__(self, other: LanguageProfile) -> LanguageProfile:
        return LanguageProfile(dict(Counter(self.letters) + Counter(other.letters)),
                               self.documents + other.documents)

    @property
    def identified(self) -> int:
        """Letters whose language was named (all but "und")."""
        return sum(n for code, n in self.letters.items() if code != UNDETERMINED)

    def share(self, *codes: str) -> float:
        """Share (0-1) of the identified letters written in any of `codes`."""
        total = self.identified
        return sum(self.letters.get(code, 0) for code in codes) / total if total else 0.0

    def ranked(self) -> list[str]:
        """Identified language codes, most letters first (ties by code: deterministic)."""
        named = [code for code in self.letters if code != UNDETERMINED]
        return sorted(named, key=lambda code: (-self.letters[code], code))

    def to_json(self) -> dict[str, Any]:
        return {"letters": dict(self.letters), "documents": self.documents}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> LanguageProfile:
        data = data or {}
        return cls(dict(data.get("letters", {})), int(data.get("documents", 0)))


def profile_of(texts: Iterable[str]) -> LanguageProfile:
    """The language profile of one document given its text blocks (code left out by the
    caller: it reads as any language). Linear in the text; at most SAMPLE_LETTERS letters
    are identified, taken evenly from start to end so a navigation bar or an English
    licence at the top does not speak for the whole document."""
    windows = list(_windows(texts))
    total = sum(letters for _, letters in windows)
    stride = max(1, -(-total // SAMPLE_LETTERS))
    letters: Counter[str] = Counter()
    for window, count in windows[::stride]:
        letters[identify(window)[0]] += count
    return LanguageProfile(dict(letters), documents=1)


def _windows(texts: Iterable[str]) -> Iterator[tuple[str, int]]:
    """(text, letters) runs of lines holding WINDOW_LETTERS letters: one line is often one
    word, too little to identify. A block (a paragraph, a table row) is one language, so a
    window never spans two blocks unless the first is too short to identify alone: a lone
    heading ("Pension plan", "Canteen") joins the block after it, which it introduces.
    Read alone, such headings were French and Dutch, and a short English handbook became
    "mixed"."""
    lines: list[str] = []
    letters = 0
    for text in texts:
        for line in text.splitlines():
            lines.append(line)
            letters += letter_count(line)
            if letters >= WINDOW_LETTERS:
                yield "\n".join(lines), letters
                lines, letters = [], 0
    if letters:
        yield "\n".join(lines), letters


@dataclass(frozen=True)
class Decision:
    """What a set of documents is written in: `language` is "en", "ko", another code of
    LANGUAGES, or "mixed"; `shares` the leading languages with their share (0-1)."""

    language: str
    shares: tuple[tuple[str, float], ...]
    letters: int
    documents: int

    def describe(self) -> str:
        """E.g. "Korean (87% of 1,234 sampled characters in 3 documents)"."""
        if self.language == MIXED:
            name, parts = MIXED, ", ".join(f"{LANGUAGES[code]} {share:.0%}"
                                           for code, share in self.shares)
        else:
            name, parts = LANGUAGES[self.language], f"{self.shares[0][1]:.0%}"
        plural = "s" if self.documents != 1 else ""
        return (f"{name} ({parts} of {self.letters:,} sampled characters in "
                f"{self.documents:,} document{plural})")


def decide(profile: LanguageProfile) -> Decision | None:
    """The language of a set of documents from their summed profile; None while no
    letter has been identified. English needs ENGLISH_ONLY of the letters, another
    language MAJORITY; anything less is "mixed" (e.g. Korean manuals with English ones)."""
    ranked = profile.ranked()
    if not ranked:
        return None
    top = ranked[0]
    if top == "en":
        language = "en" if profile.share("en") >= ENGLISH_ONLY else MIXED
    else:
        language = top if profile.share(top) >= MAJORITY else MIXED
    shown = ranked[:1] if language != MIXED else ranked[:2]
    return Decision(language, tuple((code, profile.share(code)) for code in shown),
                    profile.identified, profile.documents)
