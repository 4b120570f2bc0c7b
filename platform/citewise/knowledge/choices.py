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
    error of Citewise's own, STORAGE_FULL for a full disk and STORAGE_UNAVAILABLE for an
    object store of the originals that cannot be reached."""

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
    # The machine's too: the object store holding the originals could not be reached.
    STORAGE_UNAVAILABLE = "storage_unavailable", _("The file storage was unreachable")


# What a person can do about each failure, in the reader's language. The stored reason
# (ingestion's English sentence, with the file's own numbers and part names) says what
# went wrong; this sentence beside it is what a Korean reader acts on.
FAILURE_ADVICE = {
    FailureCode.UNSUPPORTED_TYPE: _(
        "Citewise cannot read this kind of file. Save it as PDF, Word, Excel, PowerPoint, "
        "CSV, HTML, Markdown or plain text, or unpack it if it is an archive, and upload "
        "that."),
    FailureCode.TOO_LARGE: _(
        "The file is over a size or depth limit. Split it into smaller files, or ask an "
        "administrator to raise the limit."),
    FailureCode.ENCRYPTED: _("The file is password-protected. Remove the password and "
                             "upload it again."),
    FailureCode.CORRUPT: _(
        "The file is damaged, or built to attack the programs that read it. Open it in "
        "the program that made it, save a new copy and upload that."),
    FailureCode.ARCHIVE_BOMB: _(
        "The file would expand to far more data than real documents do (a \"zip bomb\"), "
        "so it was not opened. If it is a real document, split it into smaller files."),
    FailureCode.EMPTY: _(
        "No text was found. Check that it is the right file; for scans, ask an "
        "administrator to turn on text recognition (OCR)."),
    FailureCode.OCR_UNAVAILABLE: _(
        "The pages are pictures of text and text recognition (OCR) is not installed. Ask "
        "an administrator to install it, then retry."),
    FailureCode.PARSE_TIME_LIMIT: _(
        "Reading the file took longer than the limit per document. Split or simplify it, "
        "or ask an administrator to raise the limit, then retry."),
    FailureCode.PARSE_MEMORY_LIMIT: _(
        "Reading the file needed more memory than the limit per document. Split it, or "
        "ask an administrator to raise the limit, then retry."),
    FailureCode.PARSER_CRASHED: _(
        "The program reading the file stopped unexpectedly; other files are not "
        "affected. Retry once; if it fails again, tell an administrator."),
    FailureCode.READER_FAULT: _(
        "Citewise could not read this intact file because of an internal error. "
        "Uploading it again will not help: tell an administrator."),
    FailureCode.INGESTION_FAILED: _("The file could not be ingested. Tell an "
                                    "administrator."),
    FailureCode.INTERNAL: _(
        "Citewise failed with an error of its own. Retry; if it fails again, tell an "
        "administrator."),
    FailureCode.STORAGE_FULL: _(
        "The server ran out of disk space while storing the file; nothing of it was kept. "
        "Retry once an administrator has freed space."),
    FailureCode.STORAGE_UNAVAILABLE: _(
        "Citewise could not reach the storage that holds the documents' files. Retry once "
        "an administrator has it answering again."),
}


def failure_code(error: BaseException) -> FailureCode:
    """The code of an ingestion error; STORAGE_FULL for a full disk, STORAGE_UNAVAILABLE
    for an unreachable object store; INTERNAL for any other exception."""
    from citewise.ops.outages import StorageUnavailable, is_disk_full  # loads at settings

    if isinstance(error, IngestionError):
        return FailureCode(error.code)
    if is_disk_full(error):
        return FailureCode.STORAGE_FULL
    if isinstance(error, StorageUnavailable):
        return FailureCode.STORAGE_UNAVAILABLE
    return FailureCode.INTERNAL
