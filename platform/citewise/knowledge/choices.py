"""Names shared by settings, models and services. Importable from settings: it loads no
models."""

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from ingestion.errors import IngestionError


class AnswerBackend(TextChoices):
    """Who writes the answer: quotes chosen from the passages (no GPU, no invention), or
    the LLM served by vLLM (CITEWISE_ANSWER_BACKEND, or a knowledge base's own choice)."""

    EXTRACTIVE = "extractive", _("Extractive: quotes, no LLM")
    VLLM = "vllm", _("LLM (vLLM)")


class FailureCode(TextChoices):
    """Why a document failed, for machines: the console and the API translate it, filter
    by it, and /metrics counts it. Each value is the `code` of an ingestion.errors class
    (failure_code() maps them; a test keeps the two lists equal), plus INTERNAL for an
    error of Citewise's own and STORAGE_FULL for a full disk."""

    UNSUPPORTED_TYPE = "unsupported_type", _("Unsupported file type")
    TOO_LARGE = "too_large", _("File too large")
    ENCRYPTED = "encrypted", _("Encrypted or password-protected")
    CORRUPT = "corrupt", _("Damaged file")
    ARCHIVE_BOMB = "archive_bomb", _("Archive expands too much")
    EMPTY = "empty", _("No text found")
    OCR_UNAVAILABLE = "ocr_unavailable", _("Scanned pages, OCR not installed")
    PARSE_TIME_LIMIT = "parse_time_limit", _("Reading took too long")
    PARSE_MEMORY_LIMIT = "parse_memory_limit", _("Reading needed too much memory")
    PARSER_CRASHED = "parser_crashed", _("The reader stopped unexpectedly")
    READER_FAULT = "reader_fault", _("Could not read this format")
    INGESTION_FAILED = "ingestion_failed", _("Could not be ingested")
    INTERNAL = "internal", _("Internal error")
    # The machine's, not the file's: the data directory had no space left.
    STORAGE_FULL = "storage_full", _("The server's disk was full")


def failure_code(error: BaseException) -> FailureCode:
    """The code of an ingestion error; STORAGE_FULL for a full disk; INTERNAL for any
    other exception."""
    from citewise.ops.outages import is_disk_full  # here: this module loads at settings

    if isinstance(error, IngestionError):
        return FailureCode(error.code)
    if is_disk_full(error):
        return FailureCode.STORAGE_FULL
    return FailureCode.INTERNAL
