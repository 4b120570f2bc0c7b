"""Reading a knowledge base's documents for the people who manage them: the filtered
list, the documents still being ingested, and what parsing made of one document.

Callers check permissions first (citewise.knowledge.permissions); this module never
does. Every function runs a fixed number of queries, whatever the number of documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from citewise.knowledge.models import Chunk, Document, DocumentStatus, KnowledgeBase
from citewise.knowledge.viewer import document_text
from textproc.language import LanguageProfile

PENDING = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)
# Characters of extracted text the preview of a file that is not a PDF shows.
TEXT_PREVIEW_CHARS = 4000


@dataclass(frozen=True)
class DocumentFilters:
    """What the list is narrowed to; empty strings filter nothing. `query`: part of the
    title or file name (any case); `status`: a DocumentStatus; `detected_type`: a type of
    ingestion.detect.SUPPORTED_TYPES; `error_code`: a FailureCode."""

    query: str = ""
    status: str = ""
    detected_type: str = ""
    error_code: str = ""


def documents_of(kb: KnowledgeBase, filters: DocumentFilters) -> QuerySet[Document]:
    """The knowledge base's documents that match, newest first, with the document each
    one replaces (for "replaces version N") in the same query."""
    documents = kb.documents.select_related("replaces").order_by("-created_at", "-pk")
    if filters.query:
        documents = documents.filter(Q(title__icontains=filters.query)
                                     | Q(original_name__icontains=filters.query))
    if filters.status:
        documents = documents.filter(status=filters.status)
    if filters.detected_type:
        documents = documents.filter(detected_type=filters.detected_type)
    if filters.error_code:
        documents = documents.filter(error_code=filters.error_code)
    return documents


def status_counts(kb: KnowledgeBase) -> dict[str, int]:
    """How many of the knowledge base's documents are in each DocumentStatus (all four
    keys), in one query."""
    counts = dict.fromkeys(DocumentStatus.values, 0)
    counts.update(kb.documents.order_by().values_list("status").annotate(n=Count("pk")))
    return counts


def pending_ids(documents: Iterable[Document]) -> list[int]:
    """Ids to watch for changes: the documents still queued or processing, and the older
    versions they replace (deleted when the new version is indexed)."""
    ids: list[int] = []
    for document in documents:
        if document.status in PENDING:
            ids.append(document.pk)
            if document.replaces_id:
                ids.append(document.replaces_id)
    return ids


def watched(kb: KnowledgeBase, ids: Iterable[int]) -> tuple[list[Document], list[int]]:
    """The documents of `kb` among `ids` as they stand now, and the ids that are gone
    (deleted, or replaced by a newer version). Ids of other knowledge bases count as
    gone: they are not this page's to show."""
    wanted = set(ids)
    found = list(kb.documents.select_related("replaces").filter(pk__in=wanted)
                 .order_by("-created_at", "-pk"))
    return found, sorted(wanted - {document.pk for document in found})


def chunks_of(document: Document) -> QuerySet[Chunk]:
    """The document's passages in reading order, without their vectors."""
    return document.chunks.order_by("ordinal").defer("embedding", "next_embedding")


def text_preview(document: Document) -> str:
    """The start of the document's extracted text (TEXT_PREVIEW_CHARS at most)."""
    return document_text(document, max_chars=TEXT_PREVIEW_CHARS)


def languages_of(document: Document) -> list[tuple[str, int]]:
    """(ISO 639-1 code, percent of its identified letters) of the document's languages,
    most first, from 5 % up; empty before the document is parsed."""
    profile = LanguageProfile.from_json(document.language_profile)
    shares = [(code, round(100 * profile.share(code))) for code in profile.ranked()]
    return [(code, percent) for code, percent in shares if percent >= 5]
