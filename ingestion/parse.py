"""The entry point: detect a file's type from its content, apply the safety limits,
run the format's parser, and turn anything unexpected into an IngestionError whose
message a person can act on."""

from __future__ import annotations

import importlib
import logging
import zipfile
from pathlib import Path

from ingestion.blocks import ParsedDocument
from ingestion.detect import detect_file_type, office_package_intact
from ingestion.errors import (
    CorruptDocument,
    EmptyDocument,
    IngestionError,
    ParseMemoryLimit,
    ReaderFault,
)
from ingestion.safety import DEFAULT_MAX_BYTES, check_office_xml, check_size, check_zip_archive

# type -> (module under ingestion.parsers, function, label for messages). Modules are
# imported on demand so a worker parsing text never loads the PDF or Office libraries.
PARSERS: dict[str, tuple[str, str, str]] = {
    "pdf": ("pdf", "parse_pdf", "PDF"),
    "docx": ("word", "parse_docx", "Word (.docx)"),
    "pptx": ("slides", "parse_pptx", "PowerPoint (.pptx)"),
    "xlsx": ("spreadsheet", "parse_xlsx", "Excel (.xlsx)"),
    "csv": ("delimited", "parse_csv", "CSV"),
    "html": ("webpage", "parse_html", "HTML"),
    "markdown": ("markdown", "parse_markdown", "Markdown"),
    "text": ("plaintext", "parse_text", "text"),
    "png": ("image", "parse_png", "PNG image"),
    "jpeg": ("image", "parse_jpeg", "JPEG image"),
}
OFFICE_TYPES = frozenset({"docx", "pptx", "xlsx"})
# Decoded with replacement characters, these always read: a parser failing on one is a
# fault of the parser, never of the file.
TEXT_TYPES = frozenset({"csv", "html", "markdown", "text"})

logger = logging.getLogger(__name__)


def parse_document(
    path: Path, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedDocument:
    """Parse an uploaded file. `filename` is the name the user gave it (used only as a
    tiebreak between text formats). Raises only IngestionError subclasses for bad
    input; OSError for a missing file is a caller bug and propagates."""
    path = Path(path)
    size = check_size(path, max_bytes)
    if size == 0:
        raise EmptyDocument("The file is empty (0 bytes). Check that the upload finished "
                            "and that the right file was chosen.")
    if zipfile.is_zipfile(path):
        # Before detection: detection itself reads the ZIP's directory.
        check_zip_archive(path)
    kind = detect_file_type(path, filename)
    module_name, function_name, label = PARSERS[kind]
    try:
        if kind in OFFICE_TYPES:
            check_office_xml(path)
        module = importlib.import_module(f"ingestion.parsers.{module_name}")
        document: ParsedDocument = getattr(module, function_name)(path)
    except IngestionError:
        raise
    except MemoryError as exc:
        raise ParseMemoryLimit(
            f"The {label} file needs more memory to read than this server allows. "
            "Split it into smaller files and upload them separately.") from exc
    except Exception as exc:
        raise _read_failure(path, kind, label, exc) from exc
    document.blocks = [block for block in document.blocks if block.text.strip()]
    if not document.blocks:
        raise EmptyDocument(
            f"No text was found in this {label} file. If it is a scan or a picture of text, "
            "make sure text recognition (OCR) is enabled; otherwise check that it is the "
            "right file."
        )
    return document


def _read_failure(path: Path, kind: str, label: str, exc: Exception) -> IngestionError:
    """The error for a parser that raised: the file's (damaged) only when the file can be
    shown to be at fault or cannot be checked; Citewise's (ReaderFault, logged with its
    traceback) when the file is text or an intact Office package."""
    if kind in TEXT_TYPES or (kind in OFFICE_TYPES and office_package_intact(path)):
        logger.exception("the %s reader failed on an intact file", label)
        # The error's own words go into the reason: a parser in a child process logs
        # where no administrator looks.
        detail = f"{type(exc).__name__}: {exc}"[:300]
        return ReaderFault(
            f"Citewise could not read this {label} file because of an internal error "
            f"({detail}); the file itself looks intact, so uploading it again will not "
            "help. Please tell an administrator."
        )
    # Parser libraries raise anything from KeyError to struct.error on damaged input;
    # the user can only act on "this file is damaged", with the type named.
    return CorruptDocument(
        f"The {label} file could not be read; it seems damaged or is not really a "
        f"{label} file ({type(exc).__name__}). Open it in the program that made it, "
        "save a new copy, and upload that."
    )
