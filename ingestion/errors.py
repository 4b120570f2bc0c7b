"""Errors for bad input. Each message is shown to the person who uploaded the file, so it
says what is wrong and what they can do about it; `code` is the same reason for
machines (stored with the failed document, counted, translated by each door)."""

from __future__ import annotations


class IngestionError(Exception):
    """Base class: the file cannot be ingested, for a reason a person can act on."""

    code = "ingestion_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedType(IngestionError):
    code = "unsupported_type"


class TooLarge(IngestionError):
    code = "too_large"


class EncryptedDocument(IngestionError):
    code = "encrypted"


class CorruptDocument(IngestionError):
    code = "corrupt"


class ArchiveBomb(IngestionError):
    code = "archive_bomb"


class EmptyDocument(IngestionError):
    code = "empty"


class OcrUnavailable(IngestionError):
    code = "ocr_unavailable"


class ParseTimeLimit(IngestionError):
    """Reading the file took longer than the per-document time limit."""

    code = "parse_time_limit"


class ParseMemoryLimit(IngestionError):
    """Reading the file needed more memory than the per-document memory limit."""

    code = "parse_memory_limit"


class ParserCrashed(IngestionError):
    """The process reading the file ended without an answer (a crash in a library)."""

    code = "parser_crashed"


class ReaderFault(IngestionError):
    """Reading failed although the file is intact (or is text, which always decodes):
    Citewise's fault, so the message must not send the person to repair a good file."""

    code = "reader_fault"
