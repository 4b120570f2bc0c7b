"""Decoding the bytes of a text file whose encoding nobody stated: BOMs, UTF-8, UTF-16
without a BOM, CP949/EUC-KR (Korean office files), then charset-normalizer's guess."""

from __future__ import annotations

import codecs

from textproc.scripts import is_hangul

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _looks_korean(text: str) -> bool:
    """CP949 decodes many non-Korean byte strings without error; accept it only when
    most non-ASCII characters it produced are Hangul."""
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return True
    return sum(is_hangul(c) for c in non_ascii) / len(non_ascii) >= 0.6


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


def _bom_encoding(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding + ("-sig" if encoding == "utf-8" else "")
    return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_korean_code_page(data: bytes) -> bool:
    try:
        # CP949 is Microsoft's superset of EUC-KR: every EUC-KR file decodes with it.
        return _looks_korean(data.decode("cp949"))
    except UnicodeDecodeError:
        return False


def _guessed_encoding(data: bytes) -> str:
    from charset_normalizer import from_bytes  # lazy: only undecided files need it

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


def detect_encoding(data: bytes) -> str:
    """Name of the encoding `decode_bytes` uses for `data` (a Python codec name)."""
    if (bom := _bom_encoding(data)) is not None:
        return bom
    # UTF-16 before UTF-8: English text in UTF-16 is also valid UTF-8, full of NULs.
    if _utf16_without_bom(data) is not None:
        return "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
    if _is_utf8(data):
        return "utf-8"
    if _is_korean_code_page(data):
        return "cp949"
    return _guessed_encoding(data)


def decode_bytes(data: bytes) -> str:
    """Bytes of a text file -> str, without its BOM. Never raises: undecodable bytes
    become U+FFFD rather than failing a whole upload."""
    encoding = detect_encoding(data)
    for bom, _ in _BOMS:
        if data.startswith(bom):
            data = data[len(bom) :]
            encoding = encoding.removesuffix("-sig")
            break
    return data.decode(encoding, errors="replace")
