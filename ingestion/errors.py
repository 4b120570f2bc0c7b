"""Errors for bad input. Each message is shown to the person who uploaded the file, so it
says what is wrong and what they can do about it."""

from __future__ import annotations


class IngestionError(Exception):
    """Base class: the file cannot be ingested, for a reason a person can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedType(IngestionError):
    pass


class TooLarge(IngestionError):
    pass


class EncryptedDocument(IngestionError):
    pass


class CorruptDocument(IngestionError):
    pass


class ArchiveBomb(IngestionError):
    pass


class EmptyDocument(IngestionError):
    pass


class OcrUnavailable(IngestionError):
    pass
