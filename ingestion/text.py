"""Text helpers shared by the parsers and the chunker: decoding bytes of unknown
encoding, Unicode normalisation, whitespace cleanup and sentence splitting that works
for English and Korean/CJK."""

from __future__ import annotations

import codecs
import re
import unicodedata

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _is_hangul(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3" or "\u3130" <= char <= "\u318f"


def _looks_korean(text: str) -> bool:
    """CP949 decodes many non-Korean byte strings without error; accept it only when
    most non-ASCII characters it produced are Hangul."""
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return True
    return sum(_is_hangul(c) for c in non_ascii) / len(non_ascii) >= 0.6


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM has NUL in every other byte for ASCII-range text."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0) / len(sample[0::2])
    odd_nuls = sample[1::2].count(0) / len(sample[1::2])
    if odd_nuls > 0.3 and even_nuls < 0.05:
        encoding = "utf-16-le"
    elif even_nuls > 0.3 and odd_nuls < 0.05:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def detect_encoding(data: bytes) -> str:
    """Name of the encoding `decode_bytes` uses for `data`."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding + ("-sig" if encoding == "utf-8" else "")
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _utf16_without_bom(data) is not None:
        return "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
    try:
        # CP949 is Microsoft's superset of EUC-KR: every EUC-KR file decodes with it.
        if _looks_korean(data.decode("cp949")):
            return "cp949"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data[:200_000])
    best = matches.best()
    if best is None:
        return "utf-8"
    # On short samples several single-byte code pages tie; Windows-1252 is by far the
    # most common of them in office documents.
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos:
            return "cp1252"
    return best.encoding


def decode_bytes(data: bytes) -> str:
    """Bytes of a text file -> str. Tries BOMs, strict UTF-8, UTF-16 without BOM,
    CP949/EUC-KR, then charset-normalizer's guess; never raises (undecodable bytes
    become U+FFFD rather than failing a whole upload)."""
    encoding = detect_encoding(data)
    for bom, _ in _BOMS:
        if data.startswith(bom):
            data = data[len(bom) :]
            encoding = encoding.removesuffix("-sig")
            break
    return data.decode(encoding, errors="replace")


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize_text(text: str) -> str:
    """NFC (not NFKC/NFKD: decomposing would split Hangul syllables into jamo and
    change full-width punctuation), drop control and zero-width characters, unify line
    endings and spaces, and keep at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n\n").translate(_ZERO_WIDTH)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def clean_inline(text: str) -> str:
    """Normalise and fold all whitespace to single spaces: for headings, cells, titles."""
    return " ".join(normalize_text(text).split())


# --- sentence splitting -------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc",
     "ltd", "co", "corp", "no", "fig", "al", "approx", "dept", "est", "jan", "feb", "mar",
     "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
# Closing quotes and brackets stay with the sentence they close (escapes: the typographic
# quotes look like ASCII ones to linters).
_CLOSERS = "\"'\u201d\u2019\u300d\u300f)]}>\u300b\u3009"
# A candidate end: Western terminators need following whitespace (so "3.14", "e.g.x"
# and "a.b.com" do not split); full-width CJK terminators end a sentence on their own.
_BOUNDARY = re.compile(
    rf"(?:[.?!…]+[{re.escape(_CLOSERS)}]*(?=\s)"
    rf"|[\u3002\uff1f\uff01\uff0e]+[{re.escape(_CLOSERS)}]*"
    # Korean declarative/interrogative endings without punctuation at a line end.
    rf"|(?:다|요|죠|까)(?=[ \t]*\n))"
)


def _is_abbreviation(text: str, dot_index: int) -> bool:
    if text[dot_index] != ".":
        return False
    match = re.search(r"([\w.]+)$", text[:dot_index])
    if match is None:
        return False
    word = match.group(1).lower().rstrip(".")
    # Single letters are initials ("J. Smith", "U.S.", "D.C."), not sentence ends.
    initials = all(len(part) == 1 and part.isascii() for part in word.split("."))
    return word in _ABBREVIATIONS or (initials and word.replace(".", "").isalpha())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, without surrounding whitespace, so
    that text[start:end] is the sentence and offsets stay valid for citations."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if _is_abbreviation(text, match.start()):
            continue
        # '"Why?" she asked.' is one sentence: a lowercase Latin word continues it.
        following = text[end:].lstrip()
        if following[:1].isascii() and following[:1].islower():
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    result = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            result.append((s, e))
    return result


def split_sentences(text: str) -> list[str]:
    """Split English, Korean and CJK text into sentences (terminators . ? ! … and the full-width
    。 U+FF1F U+FF01,
    closing quotes kept with their sentence, common abbreviations and decimals not
    split)."""
    return [text[s:e] for s, e in sentence_spans(text)]
