"""File type detection from content. The filename's extension is only a tiebreak
between text formats (a CSV and a plain text file can hold the same bytes); a binary
file is identified by its magic bytes, whatever it is called."""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from typing import BinaryIO, NoReturn

from defusedxml import ElementTree

from ingestion.errors import EncryptedDocument, UnsupportedType
from ingestion.safety import XML_PART_NAMES
from textproc.encoding import decode_bytes

SUPPORTED_TYPES = ("pdf", "docx", "pptx", "xlsx", "csv", "html", "markdown", "text", "png", "jpeg")
SUPPORTED_LIST = "PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), CSV, HTML, Markdown, \
plain text, PNG and JPEG images"
HEAD_BYTES = 64 * 1024

# Binary formats we recognise only to name them in the error message.
_KNOWN_BINARIES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "a Linux program"),
    (b"MZ", "a Windows program"),
    (b"{\\rtf", "an RTF document (save it as .docx)"),
    (b"\x00\x00\x01\x00", "an icon file"),
    (b"OggS", "an Ogg audio/video file"),
    (b"ID3", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"%!PS", "a PostScript file (convert it to PDF)"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_TEXT_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
}
_HTML_START = re.compile(r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
                         re.IGNORECASE | re.DOTALL)
_HTML_TAGS = re.compile(r"<(?:head|body|div|p|table|h[1-6]|article|section|ul|br)\b[^>]*>",
                        re.IGNORECASE)
_MD_SIGNALS = re.compile(r"^(?:#{1,6} \S|```|\s*[-*+] \S|\d+\. \S|\|.*\|\s*$|>\s)",
                         re.MULTILINE)


def unsupported(what: str, remedy: str = "") -> UnsupportedType:
    """`what` the file is; `remedy`: what the person can do, said after the sentence
    that Citewise cannot read it (so it is never read as part of that sentence)."""
    return UnsupportedType(
        f"This file looks like {what}, which Citewise cannot read. "
        f"{remedy}{' ' if remedy else ''}Supported types: {SUPPORTED_LIST}."
    )


def _office_kind(names: list[str]) -> str | None:
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    return None


def _zip_names(head: bytes) -> list[str]:
    names: list[str] = []
    pos = 0
    # Walk local headers: signature, 26 fixed bytes, name, extra, data.
    while pos + 30 <= len(head) and head[pos : pos + 4] == _ZIP:
        name_len = int.from_bytes(head[pos + 26 : pos + 28], "little")
        extra_len = int.from_bytes(head[pos + 28 : pos + 30], "little")
        comp_size = int.from_bytes(head[pos + 18 : pos + 22], "little")
        flags = int.from_bytes(head[pos + 6 : pos + 8], "little")
        names.append(head[pos + 30 : pos + 30 + name_len].decode("utf-8", "replace"))
        if flags & 0x08:
            break  # sizes follow the data: cannot skip ahead without decompressing
        pos += 30 + name_len + extra_len + comp_size
    return names


def _text_kind(head: bytes, extension: str) -> str:
    text = decode_bytes(head[:HEAD_BYTES])
    if _HTML_START.match(text):
        return "html"
    by_extension = _TEXT_EXTENSIONS.get(extension)
    if by_extension == "html" and not _HTML_TAGS.search(text):
        return "text"
    if by_extension is not None:
        return by_extension
    if len(_HTML_TAGS.findall(text)) >= 3:
        return "html"
    if len(_MD_SIGNALS.findall(text)) >= 2 and re.search(r"^#{1,6} \S", text, re.MULTILINE):
        return "markdown"
    return "text"


def _looks_binary(head: bytes) -> bool:
    sample = head[:8192]
    if not sample:
        return False
    if b"\x00" in sample:
        # UTF-16 text is full of NULs; decode_bytes handles it, so judge the decoded text.
        decoded = decode_bytes(sample)
        bad = sum(1 for c in decoded if c == "\ufffd" or (ord(c) < 32 and c not in "\t\n\r\f"))
        return bad > len(decoded) * 0.05
    decoded = decode_bytes(sample)
    controls = sum(1 for c in decoded if ord(c) < 32 and c not in "\t\n\r\f\x1b")
    return controls > len(decoded) * 0.05 or decoded.count("\ufffd") > len(decoded) * 0.1


def _zip_kind(head: bytes) -> str:
    """The Office type of a ZIP container, or UnsupportedType for any other ZIP."""
    names = _zip_names(head)
    kind = _office_kind(names)
    if kind is None:
        if any(n.endswith(".odt") or n == "mimetype" for n in names):
            raise unsupported("an OpenDocument file (save it as .docx, .xlsx or .pptx)")
        raise unsupported("a ZIP archive")
    return kind


def _refuse_ole2(head: bytes) -> NoReturn:
    """An OLE2 container is a legacy or a password-protected Office file: never parsed."""
    if "EncryptedPackage".encode("utf-16-le") in head:
        raise EncryptedDocument(
            "This Office file is password-protected. Remove the password in Office "
            "(File > Info > Protect) and upload it again."
        )
    raise unsupported("a legacy Microsoft Office file (.doc, .xls or .ppt)",
                      "Save it in the newer .docx, .xlsx or .pptx format and upload that.")


def detect_type(data_head: bytes, filename: str) -> str:
    """The type of a file from its first bytes (at least the first few KB; 64 KB
    recommended). Returns one of SUPPORTED_TYPES or raises UnsupportedType naming what
    the file seems to be (EncryptedDocument for a password-protected Office file)."""
    head = data_head
    extension = Path(filename).suffix.lower()
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_ZIP):
        return _zip_kind(head)
    if head.startswith(_OLE2):
        _refuse_ole2(head)
    _refuse_other_binaries(head)
    return _text_kind(head, extension)


def _refuse_other_binaries(head: bytes) -> None:
    """UnsupportedType naming the kind of a binary file Citewise does not read."""
    if head[8:12] == b"WEBP" and head.startswith(b"RIFF"):
        raise unsupported("a WebP image")
    if head[4:8] == b"ftyp":
        raise unsupported("a video or HEIC image file")
    for magic, what in _KNOWN_BINARIES:
        if head.startswith(magic):
            raise unsupported(what)
    if _looks_binary(head):
        raise unsupported("a binary file of an unknown kind")


def detect_file_type(path: Path, filename: str) -> str:
    """detect_type for a file on disk (see detect_stream_type)."""
    with path.open("rb") as handle:
        return detect_stream_type(handle, filename)


def detect_stream_type(stream: BinaryIO, filename: str) -> str:
    """detect_type for an open, seekable file, e.g. an upload; leaves it at its start.
    For ZIP files it reads the central directory, which a small head may not contain
    (entries written with data descriptors)."""
    head = stream.read(HEAD_BYTES)
    try:
        if head.startswith(_ZIP):
            try:
                stream.seek(0)
                with zipfile.ZipFile(stream) as archive:
                    kind = _office_kind(archive.namelist())
            except zipfile.BadZipFile:
                kind = None
            if kind is not None:
                return kind
        return detect_type(head, filename)
    finally:
        stream.seek(0)


_PACKAGE_RELS = "_rels/.rels"
_OFFICE_DOCUMENT = "/officeDocument"


def _main_part(archive: zipfile.ZipFile) -> str | None:
    """The package's main part (word/document.xml, xl/workbook.xml, ...), as named by
    its root relationships; None when they name none."""
    root = ElementTree.fromstring(archive.read(_PACKAGE_RELS))
    for relation in root:
        if (relation.get("Type") or "").endswith(_OFFICE_DOCUMENT):
            return posixpath.normpath((relation.get("Target") or "").lstrip("/"))
    return None


def _well_formed(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    with archive.open(info) as part:
        try:
            for _ in ElementTree.iterparse(part):
                pass
        except ElementTree.ParseError:
            return False
    return True


def office_package_intact(path: Path) -> bool:
    """Whether an Office file (docx, pptx, xlsx) is whole: every entry's checksum
    matches, its main part exists and every XML part is well-formed. A reader that
    fails on an intact package failed by Citewise's fault, not the file's.

    Call only on a file that passed safety.check_zip_archive and check_office_xml (size
    bounded, no document type declarations)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if archive.testzip() is not None or _PACKAGE_RELS not in names:
                return False
            if _main_part(archive) not in names:
                return False
            return all(_well_formed(archive, info) for info in archive.infolist()
                       if info.filename.lower().endswith(XML_PART_NAMES))
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, ValueError, EOFError):
        return False
