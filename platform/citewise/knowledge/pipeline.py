"""Ingestion of one document: parse, chunk, embed, index. Run by the ingest task.

Idempotent by construction, so a task that runs twice, or again after its worker was
killed, finishes the work without duplicates:
1. The document is claimed with a compare-and-swap on its lease; a second worker finds
   the lease held and leaves.
2. Chunks are written in one transaction; a rerun that finds them skips parsing.
3. Embeddings are saved batch by batch; a rerun embeds only chunks still without one.
4. Indexing upserts by chunk id.
5. The switch to `indexed` (and the deletion of the versions it replaces, with a
   record of their chunks to take out of the index: indexing.forget_chunks) is one
   transaction, which is what searches filter on.
6. Only then is the knowledge base's webhook told (webhook_delivery.py): a claim never
   succeeds on an indexed or failed document, so a rerun does not tell it twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from citewise.knowledge import indexing, languages
from citewise.knowledge.choices import FailureCode, failure_code
from citewise.knowledge.models import (
    Chunk,
    Document,
    DocumentStatus,
    IngestionAttempt,
    Stage,
)
from citewise.knowledge.storage import discard_document, local_copy
from citewise.knowledge.tasks import TRANSIENT_ERRORS
from citewise.knowledge.webhook_delivery import document_finished
from ingestion.blocks import ParsedDocument
from ingestion.bounded import ParseLimits, parse_bounded
from ingestion.chunker import chunk_document
from ingestion.errors import EmptyDocument, IngestionError
from retrieval.embedder import TextEmbedder
from textproc.language import load_in_background as load_language_identifier

logger = logging.getLogger(__name__)

# Share of the progress bar each stage ends at.
PROGRESS_AFTER = {Stage.PARSING: 0.10, Stage.CHUNKING: 0.20, Stage.EMBEDDING: 0.90,
                  Stage.INDEXING: 1.0}


INTERNAL_ERROR_MESSAGE = ("Citewise failed while reading this file: an error of its own, "
                          "written to the log for the administrator. Retry the upload; if "
                          "it fails again, report it with the file.")
# Failures of Citewise or its machine: a sentence for people instead of the exception's
# (which may name paths). The document is retried as it is once the cause is gone.
OWN_FAILURE_MESSAGES = {
    FailureCode.INTERNAL: INTERNAL_ERROR_MESSAGE,
    FailureCode.STORAGE_FULL: "The server's disk was full while this document was being "
                              "indexed; nothing of it is searchable yet. Once an "
                              "administrator has freed space, retry it.",
    FailureCode.STORAGE_UNAVAILABLE: "The storage that holds the documents' files could "
                                     "not be reached while this document was being "
                                     "indexed. Once it answers again, retry it.",
}


# What ingest() returns for a document deleted while it was being ingested.
DELETED = "deleted"


class DocumentBusy(Exception):
    """Another worker holds the document's lease."""


def claim(document_id: int) -> Document | None:
    """Take the document for this worker, or None if there is nothing to do."""
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    taken = Document.objects.filter(
        free, pk=document_id, status__in=[DocumentStatus.QUEUED, DocumentStatus.PROCESSING],
    ).update(status=DocumentStatus.PROCESSING, error="", error_code="",
             lease_expires_at=now + timedelta(seconds=settings.INGEST_LEASE_SECONDS))
    if taken == 1:
        return Document.objects.select_related("knowledge_base").get(pk=document_id)
    if Document.objects.filter(pk=document_id, status=DocumentStatus.PROCESSING).exists():
        raise DocumentBusy(f"document {document_id} is being processed by another worker")
    return None  # gone, already indexed, or failed


def report(document: Document, stage: str, progress: float) -> None:
    """Save stage and progress, and renew the lease: the worker is alive."""
    document.stage = stage
    document.progress = round(progress, 3)
    document.lease_expires_at = timezone.now() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    Document.objects.filter(pk=document.pk).update(
        stage=stage, progress=document.progress, lease_expires_at=document.lease_expires_at)


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - began, 3)


def ingest(document_id: int, *, task_id: str = "", worker: str = "") -> str:
    """Run (or resume) the ingestion of a document; returns its final status."""
    document = claim(document_id)
    if document is None:
        return "skipped"
    attempt = IngestionAttempt.objects.create(document=document, task_id=task_id, worker=worker)
    timings: dict[str, float] = {}
    with _attempt([(document, attempt, timings)]):
        if not document.chunks.exists():
            _parse_and_chunk(document, timings)
        with timed(timings, "embed"):
            _embed_pending(document)
        with timed(timings, "index"):
            report(document, Stage.INDEXING, PROGRESS_AFTER[Stage.EMBEDDING])
            chunks = list(document.chunks.all())
            indexing.index_chunks(document.knowledge_base, chunks)
            if not _publish(document):
                # Deleted while it was being ingested: what was just indexed goes too,
                # or the index would keep passages of a document that is gone.
                indexing.forget_chunks(document.knowledge_base, [c.pk for c in chunks])
                return DELETED
    return document.status


# ingest_many: documents whose parses run ahead of the one being chunked, and chunks
# embedded and indexed together (one write of each index file): embedded longest first, a
# larger group pads its forward passes less.
PARSE_AHEAD = 4
INDEX_TOGETHER = 512


@dataclass
class _Work:
    """A claimed document of ingest_many and its attempt."""

    document: Document
    attempt: IngestionAttempt
    parsing: Future[ParsedDocument] | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def as_attempt(self) -> tuple[Document, IngestionAttempt, dict[str, float]]:
        return self.document, self.attempt, self.timings


def ingest_many(document_ids: Iterable[int], *, task_id: str = "", worker: str = "",
                finished: Callable[[], None] | None = None,
                chunked: Callable[[int], None] | None = None) -> None:
    """ingest() for many documents in this process (`ingest --sync`), faster: while one
    document is chunked, or a group embedded, the next ones are parsed in their sandboxes
    (a thread waits on each child, so the parse runs on another core); the chunks of a
    group of documents (up to INDEX_TOGETHER) are embedded together, longest first, and
    written to both indexes once per group instead of once per document (each index write
    rewrites the knowledge base's files). Each document is claimed, published and recorded
    as by ingest(), and a failure fails that document alone; should the process die, the
    documents it held are resumed as ingest() resumes them (their chunks and embeddings
    are saved as they are made). `finished` is called after each group is published,
    `chunked` with each document's id once it is parsed and chunked (progress: documents
    are published in groups, long after they are read)."""
    waiting = iter(document_ids)  # read lazily: a caller may decide the next one late
    ahead: deque[_Work] = deque()
    load_language_identifier()  # needed once the first document is parsed
    group: list[_Work] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse") as parser:
        while _read_ahead(waiting, ahead, parser, task_id, worker) or ahead:
            if not ahead:
                continue
            work = ahead.popleft()
            with _attempt([work.as_attempt], finish=False):
                if work.parsing is not None:
                    _parse_and_chunk(work.document, work.timings, work.parsing)
                if chunked is not None:
                    chunked(work.document.pk)
                if group and _model_of(group[0]) != _model_of(work):
                    _finish_group(group, finished)
                    group = []
                if not group:
                    _load_embedder_in_background(work)
                group.append(work)
            if _chunk_count(group) >= INDEX_TOGETHER:
                _finish_group(group, finished)
                group = []
        if group:
            _finish_group(group, finished)


def _read_ahead(waiting: Iterator[int], ahead: deque[_Work], parser: ThreadPoolExecutor,
                task_id: str, worker: str) -> bool:
    """Claim documents until PARSE_AHEAD are parsing or parsed; False once `waiting` has
    no more."""
    while len(ahead) < PARSE_AHEAD:
        document_id = next(waiting, None)
        if document_id is None:
            return False
        if (work := _begin(document_id, parser, task_id, worker)) is not None:
            ahead.append(work)
    return True


def ingest_queued(document_id: int, *, task_id: str = "", worker: str = "") -> str:
    """A worker's ingestion task: ingest the document, then go on with the other documents
    of its knowledge base that are queued and that no worker has started, for up to
    INGEST_BATCH_SECONDS, all through ingest_many (parsed ahead, embedded and indexed
    together: each index write rewrites the knowledge base's files, so a folder of
    uploads indexed one task per document wrote them once per document). Each of those
    documents is claimed as ingest() claims it, so their own tasks, arriving later, find
    them done or held and skip them. Returns the document's status ("skipped" when it is
    gone or was already done)."""
    kb_id = Document.objects.filter(pk=document_id).values_list("knowledge_base_id",
                                                                 flat=True).first()
    if kb_id is None:
        return "skipped"
    if settings.INGEST_BATCH_SECONDS == 0:
        return ingest(document_id, task_id=task_id, worker=worker)
    ingest_many(_then_queued(document_id, kb_id, settings.INGEST_BATCH_SECONDS),
                task_id=task_id, worker=worker)
    status = Document.objects.filter(pk=document_id).values_list("status", flat=True).first()
    return status or DELETED


def _then_queued(document_id: int, kb_id: int, seconds: float) -> Iterator[int]:
    """`document_id`, then the knowledge base's queued documents no worker holds, oldest
    first, one at a time (a document queued meanwhile is seen), until `seconds` pass."""
    yield document_id
    deadline = time.monotonic() + seconds
    seen = {document_id}
    while time.monotonic() < deadline:
        following = (Document.objects.filter(knowledge_base_id=kb_id,
                                             status=DocumentStatus.QUEUED,
                                             lease_expires_at__isnull=True)
                     .exclude(pk__in=seen).order_by("pk").values_list("pk", flat=True).first())
        if following is None:
            return
        seen.add(following)
        yield following


def _begin(document_id: int, parser: ThreadPoolExecutor, task_id: str,
           worker: str) -> _Work | None:
    try:
        document = claim(document_id)
    except DocumentBusy:
        return None  # a worker has it: the caller waits for it like any queued document
    if document is None:
        return None
    attempt = IngestionAttempt.objects.create(document=document, task_id=task_id, worker=worker)
    parsing = None if document.chunks.exists() else parser.submit(_parse, document)
    return _Work(document, attempt, parsing)


def _load_embedder_in_background(work: _Work) -> None:
    """Load the embedder of the group `work` opens in a daemon thread while the group's
    other documents are parsed and chunked (exporting a model's graph on its first use
    takes a minute, compiling the bf16 one most of a second); the group's embedding then
    finds it loaded, or waits for the load under way. Nothing to do, and the thread ends
    at once, when it is loaded already."""
    kb = work.document.knowledge_base

    def load() -> None:
        try:
            indexing.embedder_for(kb, bulk=True)
        except Exception:  # the group's embedding loads it again and fails with the error
            logger.debug("loading %s's embedder ahead failed", kb.slug, exc_info=True)

    threading.Thread(target=load, name="embedder-load", daemon=True).start()


def _model_of(work: _Work) -> tuple[int, str]:
    kb = work.document.knowledge_base
    return kb.pk, kb.embedding_model


def _chunk_count(group: list[_Work]) -> int:
    return Chunk.objects.filter(document__in=[w.document for w in group if _alive(w)]).count()


def _alive(work: _Work) -> bool:
    return work.document.status != DocumentStatus.FAILED


def _share(works: list[_Work], stage: str, seconds: float, sizes: dict[int, int]) -> None:
    """Add a step the documents shared to their timings, by their share of its chunks."""
    total = sum(sizes.values()) or 1
    for work in works:
        timings = work.timings
        timings[stage] = round(timings.get(stage, 0.0)
                               + seconds * sizes.get(work.document.pk, 0) / total, 3)


def _embed_group(group: list[_Work]) -> None:
    """Embed the chunks of the group's documents that have none, together."""
    alive = [w for w in group if _alive(w)]
    if not alive:
        return
    began = time.perf_counter()
    with _attempt([w.as_attempt for w in alive], finish=False):
        _renew(alive, Stage.EMBEDDING)
        documents = [w.document for w in alive]
        pending = list(Chunk.objects.filter(document__in=documents, embedding=None)
                       .only("pk", "text", "document_id", "token_count"))
        sizes = dict(Counter(chunk.document_id for chunk in pending))
        totals = dict(Chunk.objects.filter(document__in=documents).values("document_id")
                      .annotate(n=Count("pk")).values_list("document_id", "n"))
        done = {pk: totals[pk] - sizes.get(pk, 0) for pk in totals}

        def progressed(batch: list[Chunk]) -> None:
            _renew(alive, Stage.EMBEDDING)
            for pk, count in Counter(chunk.document_id for chunk in batch).items():
                done[pk] += count
                Document.objects.filter(pk=pk).update(
                    progress=round(_embedding_progress(done[pk], totals[pk]), 3))

        embedder = indexing.embedder_for(alive[0].document.knowledge_base, bulk=True)
        _embed_chunks(embedder, pending, settings.EMBED_BATCH_SIZE, progressed)
    _share(alive, "embed", time.perf_counter() - began, sizes)


def _finish_group(group: list[_Work], finished: Callable[[], None] | None) -> None:
    """Embed what is left, write both indexes once for the group, publish each
    document, and finish the attempts."""
    _embed_group(group)
    alive = [w for w in group if _alive(w)]
    began = time.perf_counter()
    sizes: dict[int, int] = {}
    with _attempt([w.as_attempt for w in alive], finish=False):
        _renew(alive, Stage.INDEXING)
        chunks = list(Chunk.objects.filter(document__in=[w.document for w in alive]))
        for chunk in chunks:
            sizes[chunk.document_id] = sizes.get(chunk.document_id, 0) + 1
        if chunks:
            indexing.index_chunks(alive[0].document.knowledge_base, chunks)
        for work in alive:
            if not _publish(work.document):
                indexing.forget_chunks(work.document.knowledge_base,
                                       [c.pk for c in chunks
                                        if c.document_id == work.document.pk])
    _share(alive, "index", time.perf_counter() - began, sizes)
    for work in group:
        IngestionAttempt.objects.filter(pk=work.attempt.pk).update(
            finished_at=timezone.now(), stage_seconds=work.timings, error=work.attempt.error)
    if finished is not None:
        finished()


def _renew(works: list[_Work], stage: str) -> None:
    """The group's documents are at `stage`, and still this process's."""
    expires = timezone.now() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    Document.objects.filter(pk__in=[w.document.pk for w in works]).update(
        stage=stage, lease_expires_at=expires)


@contextmanager
def _attempt(works: list[tuple[Document, IngestionAttempt, dict[str, float]]], *,
             finish: bool = True) -> Iterator[None]:
    """Run a step of these documents' ingestion: an error fails them (or, when it passes
    by itself, frees their leases for a retry and is raised). Their attempts are
    finished with their stage timings after an error, and after success if `finish`."""
    failed = True
    try:
        yield
        failed = False
    except IngestionError as error:
        for document, attempt, _ in works:
            _fail(document, error)
            attempt.error = str(error)
    except TRANSIENT_ERRORS as error:
        # A database hiccup or a held lock: free the lease so the task's retry can claim
        # the document again and resume where this attempt stopped.
        Document.objects.filter(pk__in=[d.pk for d, _, _ in works]).update(
            lease_expires_at=None)
        for _, attempt, _ in works:
            attempt.error = f"{type(error).__name__}: {error}"
        raise
    except Exception as error:
        # A fault of Citewise's own: retrying would fail the same way, and leaving the
        # document processing would queue it again forever. It fails as `internal`.
        for document, attempt, _ in works:
            logger.exception("document %s: error of Citewise or its machine while "
                             "ingesting", document.pk)
            attempt.error = f"{type(error).__name__}: {error}"
            _fail(document, error)
    finally:
        # An update, not save(): the attempt is gone with its document if that was deleted.
        for _, attempt, timings in works if finish or failed else []:
            IngestionAttempt.objects.filter(pk=attempt.pk).update(
                finished_at=timezone.now(), stage_seconds=timings, error=attempt.error)


def parse_limits() -> ParseLimits:
    return ParseLimits(seconds=settings.PARSE_TIMEOUT_SECONDS,
                       memory_bytes=settings.PARSE_MEMORY_MB * 1024 * 1024)


def _parse(document: Document) -> ParsedDocument:
    with local_copy(document.stored_path) as original:
        return parse_bounded(original, document.original_name,
                             max_bytes=settings.MAX_UPLOAD_BYTES, limits=parse_limits(),
                             heartbeat=lambda: report(document, Stage.PARSING, 0.02))


def _parse_and_chunk(document: Document, timings: dict[str, float],
                     parsing: Future[ParsedDocument] | None = None) -> None:
    """Parse (or wait for `parsing`, the parse already under way) and chunk."""
    with timed(timings, "parse"):
        report(document, Stage.PARSING, 0.02)
        parsed = parsing.result() if parsing is not None else _parse(document)
    with timed(timings, "chunk"):
        report(document, Stage.CHUNKING, PROGRESS_AFTER[Stage.PARSING])
        # A knowledge base on "auto" may only now learn its language, hence its model.
        kb = languages.settle(document, parsed)
        drafts = chunk_document(parsed, indexing.embedder_for(kb).count_tokens,
                                max_tokens=indexing.chunk_budget(kb),
                                overlap_tokens=settings.CHUNK_OVERLAP_TOKENS)
        if not drafts:
            raise EmptyDocument("the document has no text to index")
        with transaction.atomic():
            Chunk.objects.bulk_create(
                Chunk(document=document, knowledge_base=kb, ordinal=n, text=draft.text,
                      page_start=draft.page_start, page_end=draft.page_end,
                      heading_path=list(draft.heading_path), char_start=draft.char_start,
                      char_end=draft.char_end, token_count=draft.token_count,
                      locations=[location.as_json() for location in draft.locations])
                for n, draft in enumerate(drafts)
            )
            document.detected_type = parsed.detected_type
            document.page_count = parsed.page_count
            if parsed.title and document.title == document.original_name:
                document.title = parsed.title[:500]
            document.save(update_fields=["detected_type", "page_count", "title"])


def _embed_pending(document: Document) -> None:
    embedder = indexing.embedder_for(document.knowledge_base, bulk=True)
    total = document.chunks.count()
    pending = list(document.chunks.filter(embedding=None).only("pk", "text", "token_count"))
    done = total - len(pending)
    report(document, Stage.EMBEDDING, _embedding_progress(done, total))

    def progressed(batch: list[Chunk]) -> None:
        nonlocal done
        done += len(batch)
        report(document, Stage.EMBEDDING, _embedding_progress(done, total))

    _embed_chunks(embedder, pending, settings.EMBED_BATCH_SIZE, progressed)


def _embedding_progress(done: int, total: int) -> float:
    """A document's progress with `done` of its `total` chunks embedded."""
    start = PROGRESS_AFTER[Stage.CHUNKING]
    return start + (PROGRESS_AFTER[Stage.EMBEDDING] - start) * done / max(total, 1)


def _publish(document: Document) -> bool:
    """Make the new chunks searchable and the replaced versions' chunks not, at once.
    False when the document was deleted meanwhile (nothing published)."""
    replaced = _versions_replaced(document)
    with transaction.atomic():
        # Locked: a deletion of the document waits for this, or this sees it gone.
        if not Document.objects.select_for_update().filter(pk=document.pk).exists():
            return False
        for older in replaced:
            discard_document(older)
        document.replaces = None
        document.status = DocumentStatus.INDEXED
        document.stage = Stage.INDEXED
        document.progress = 1.0
        document.indexed_at = timezone.now()
        document.lease_expires_at = None
        document.save(update_fields=["status", "stage", "progress", "indexed_at",
                                     "lease_expires_at", "replaces"])
        indexing.searchable_set_changed(document.knowledge_base)
    document_finished(document)
    return True


def _versions_replaced(document: Document) -> list[Document]:
    """The versions before this one, newest first: all go when it is indexed, even one
    whose own indexing has not finished (two versions uploaded close together)."""
    chain: list[Document] = []
    older = document.replaces
    while older is not None and older not in chain:
        chain.append(older)
        older = older.replaces
    return chain


def _fail(document: Document, error: Exception) -> None:
    code = failure_code(error)
    document.status = DocumentStatus.FAILED
    document.stage = Stage.FAILED
    document.error = OWN_FAILURE_MESSAGES.get(code, str(error))
    document.error_code = code
    document.lease_expires_at = None
    if not Document.objects.filter(pk=document.pk).update(
            status=document.status, stage=document.stage, error=document.error,
            error_code=code, lease_expires_at=None):
        return  # deleted meanwhile: nobody to tell
    logger.info("document %s failed (%s): %s", document.pk, code, error)
    document_finished(document)


def _embed_chunks(embedder: TextEmbedder, chunks: list[Chunk], batch_size: int,
                  after_batch: Callable[[list[Chunk]], None]) -> None:
    """Embeds `chunks` `batch_size` at a time, longest first, storing each batch's vectors
    as it goes (a rerun resumes from the chunks still without one); after_batch(batch)
    follows each. A forward pass pads its texts to the longest: batched in document order,
    a heading-sized chunk beside full ones was padded to the model's longest input
    (benchmarks/RESULTS.md, "A third machine, padding, ...")."""
    chunks = sorted(chunks, key=lambda chunk: -chunk.token_count)
    for first in range(0, len(chunks), batch_size):
        batch = chunks[first:first + batch_size]
        indexing.embed_and_store(embedder, batch)
        after_batch(batch)
