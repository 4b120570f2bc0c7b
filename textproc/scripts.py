"""Which writing system characters belong to: Hangul and the CJK scripts that have no
spaces between words and count one model token per character."""

from __future__ import annotations

import re

HANGUL_SYLLABLES = "\uac00-\ud7a3"
# Kana, CJK ideographs (incl. extension A) and Hangul syllables.
CJK_CHARACTERS = f"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff{HANGUL_SYLLABLES}"

_HANGUL = re.compile(f"[{HANGUL_SYLLABLES}]")
_CJK = re.compile(f"[{CJK_CHARACTERS}]")


def is_hangul(char: str) -> bool:
    """A Hangul syllable or compatibility jamo (ㄱ, ㅏ: typed alone in chat and old files)."""
    return "\uac00" <= char <= "\ud7a3" or "\u3130" <= char <= "\u318f"


def is_cjk(char: str) -> bool:
    """A character of a script written without spaces between words (kana, hanzi/kanji)
    or a Hangul syllable."""
    return bool(_CJK.match(char))


def count_cjk(text: str) -> int:
    return len(_CJK.findall(text))


def hangul_share(text: str) -> float:
    """Share (0..1) of the letters in `text` that are Hangul syllables; 0.0 without letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _HANGUL.match(c)) / len(letters)
