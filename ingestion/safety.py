"""Limits applied before a parser touches a file: size, ZIP bombs disguised as Office
files, XML with document type declarations (entity expansion attacks), and safe
filenames. Parsers run only on files that passed these checks."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

from ingestion.errors import ArchiveBomb, CorruptDocument, TooLarge

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
# A high ratio is only dangerous when the expanded size is large too: a 50 KB file that
# expands to 2 MB is an ordinary, repetitive spreadsheet.
RATIO_CHECK_FLOOR_BYTES = 10 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
# The XML prolog (declaration, comments, DOCTYPE) precedes the root element; no real
# Office part has a prolog this long.
_MAX_PROLOG_BYTES = 64 * 1024
XML_PART_NAMES = (".xml", ".rels", ".vml")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check_size(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Size of the file in bytes; TooLarge when over `max_bytes`."""
    size = path.stat().st_size
    if size > max_bytes:
        raise TooLarge(
            f"The file is {_megabytes(size)}, over the {_megabytes(max_bytes)} limit. "
            "Split it into smaller files, or ask an administrator to raise the limit."
        )
    return size


def check_zip_archive(
    path: Path,
    *,
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
    max_entries: int = MAX_ZIP_ENTRIES,
) -> None:
    """Reject ZIP containers (docx, pptx, xlsx) that would expand into too much data.

    Reads only the central directory. The declared sizes are a safe bound: Python's
    zipfile never inflates an entry past its declared size (and fails the CRC check if
    the data does not match), so a lying header cannot smuggle more data through.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptDocument(
            "The file is damaged: its ZIP structure cannot be read (Office files are ZIP "
            "archives). Open it in Office, save it again, and upload the new copy."
        ) from exc
    bomb_hint = "It may be a 'zip bomb'. If it is a real document, split it into smaller files."
    if len(infos) > max_entries:
        raise ArchiveBomb(
            f"The file contains {len(infos):,} archive entries (limit {max_entries:,}). "
            + bomb_hint
        )
    total = sum(info.file_size for info in infos)
    compressed = max(1, sum(info.compress_size for info in infos))
    if total > max_uncompressed:
        raise ArchiveBomb(
            f"The file would expand to {_megabytes(total)} when opened "
            f"(limit {_megabytes(max_uncompressed)}). " + bomb_hint
        )
    if total > RATIO_CHECK_FLOOR_BYTES and total / compressed > max_ratio:
        raise ArchiveBomb(
            f"The file is compressed {total / compressed:,.0f} times (limit {max_ratio:,.0f}), "
            "far more than real documents are. " + bomb_hint
        )


_DOCTYPE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def _prolog_has_doctype(head: bytes) -> bool | None:
    """True if the XML prolog in `head` declares a DOCTYPE, False if the root element
    starts without one, None if the prolog does not end within `head`."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "replace").encode("utf-8")
    head = head.removeprefix(b"\xef\xbb\xbf")
    pos = 0
    while True:
        match = _PROLOG_ITEM.match(head, pos)
        if match is None:
            break
        pos = match.end()
    rest = head[pos:].lstrip()
    if _DOCTYPE.match(rest):
        return True
    if rest.startswith(b"<"):
        return False
    return None if len(head) >= _MAX_PROLOG_BYTES else False


def _looks_like_xml(head: bytes) -> bool:
    """Whether a part's first bytes start XML (any encoding Office or libxml2 reads)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def check_office_xml(path: Path) -> None:
    """Office Open XML never uses DTDs. A part that declares one is crafted (the
    'billion laughs' entity expansion, or external entities reading local files), so it
    is rejected before any XML parser sees it. Every part that starts like XML is
    checked, whatever its name: [Content_Types].xml may declare any part name XML."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as part:
                head = part.read(_MAX_PROLOG_BYTES)
            if not (info.filename.lower().endswith(XML_PART_NAMES) or _looks_like_xml(head)):
                continue
            verdict = _prolog_has_doctype(head)
            if verdict is None or verdict:
                raise CorruptDocument(
                    f"The file contains an XML part ({info.filename}) with a document type "
                    "declaration, which Office files never use; it may be crafted to exhaust "
                    "memory or to read files on the server. Open it in Office, save a clean "
                    "copy, and upload that."
                )


_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED_WINDOWS = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
MAX_FILENAME_BYTES = 200


def sanitize_filename(name: str, *, max_bytes: int = MAX_FILENAME_BYTES) -> str:
    """A filename safe to store and show: no directories (only the last path component
    of either separator survives), no control or reserved characters, NFC so Korean
    names compare equal whatever the uploading OS used (macOS sends NFD), and at most
    `max_bytes` UTF-8 bytes with the extension kept."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp"})
    name = _UNSAFE_CHARS.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if not name or set(name) <= {"_", "."}:
        name = "document"
    if _RESERVED_WINDOWS.match(name):
        name = "_" + name
    if len(name.encode("utf-8")) > max_bytes:
        stem, dot, suffix = name.rpartition(".")
        if not dot or len(suffix) > 10:
            stem, suffix = name, ""
        suffix = f".{suffix}" if suffix else ""
        budget = max_bytes - len(suffix.encode("utf-8"))
        # Cut on character boundaries: never leave half a Hangul syllable's bytes.
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(" .")
        name = stem + suffix
    return name
