"""`manage.py ingest PATH... --kb SLUG`: load files, folders and .zip archives.

Runs through the workers (and waits for them, showing progress) or, with --sync, in this
process (pipeline.ingest_many: parsing ahead of embedding, documents embedded and indexed
together). Prints a summary; exits 1 if any file failed. Acts as the system (full rights).
"""

from __future__ import annotations

import json
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from citewise.knowledge import languages
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase, LanguageHint, Stage
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest_many
from citewise.knowledge.services import add_document, create_knowledge_base
from citewise.knowledge.uploads import archive_members, member_path
from ingestion.errors import ArchiveBomb

WORKER_WAIT_SECONDS = 60
_READ_STAGES = {Stage.EMBEDDING, Stage.INDEXING}  # parsed and chunked, being indexed


@dataclass
class Outcome:
    indexed: int = 0
    duplicates: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    waiting: dict[int, str] = field(default_factory=dict)  # document id -> path
    read: set[int] = field(default_factory=set)  # parsed and chunked, not yet indexed

    @property
    def done(self) -> int:
        return self.indexed + self.duplicates + len(self.failed)


def files_in(paths: list[str]) -> Iterator[tuple[str, AbstractContextManager[IO[bytes]]]]:
    """(display path, opener) for every file under the paths, archives expanded."""
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise CommandError(f"{raw}: no such file or folder")
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate.suffix.lower() == ".zip" and zipfile.is_zipfile(candidate):
                yield from _archive_members(candidate)
            else:
                yield str(candidate), candidate.open("rb")


def _archive_members(archive: Path) -> Iterator[tuple[str, AbstractContextManager[IO[bytes]]]]:
    with zipfile.ZipFile(archive) as bundle:
        try:
            members = archive_members(bundle)
        except ArchiveBomb as error:
            raise CommandError(f"{archive}: {error}") from None
        for member in members:
            # Each member streams through the size limit of store_original.
            yield f"{archive}!{member_path(member)}", bundle.open(member)


class Progress:
    def __init__(self, stream: Any, total: int, *, enabled: bool) -> None:
        self.stream, self.total, self.enabled = stream, total, enabled

    def show(self, outcome: Outcome) -> None:
        if not self.enabled:
            return
        # Documents are indexed in groups, so "done" can stay at 0 for minutes while they
        # are read; the bar's first half fills as they are read, its second as they finish.
        read = outcome.done + len(outcome.read & outcome.waiting.keys())
        width = 30
        filled = int(width * (read + outcome.done) / (2 * self.total)) if self.total else width
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {outcome.done}/{self.total}  "
            f"read {read}, indexed {outcome.indexed}, duplicates {outcome.duplicates}, "
            f"failed {len(outcome.failed)}"
        )
        self.stream.flush()

    def end(self) -> None:
        if self.enabled:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Add files, folders or .zip archives to a knowledge base and index them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--kb", required=True, metavar="SLUG")
        parser.add_argument("--create", action="store_true",
                            help="create the knowledge base if it does not exist")
        parser.add_argument("--language", choices=LanguageHint.values, default="auto",
                            help="with --create: the knowledge base's language; auto (the "
                                 "default) lets the first documents pick the embedding "
                                 "model, en and ko fix it")
        parser.add_argument("--sync", action="store_true",
                            help="process in this process instead of the workers")
        parser.add_argument("--json", action="store_true", help="print a JSON summary")

    def handle(self, *args: Any, paths: list[str], kb: str, create: bool, language: str,
               sync: bool, json: bool, **options: Any) -> None:
        knowledge_base = self._knowledge_base(kb, create=create, language=language)
        sources = list(files_in(paths))
        outcome = Outcome()
        progress = Progress(sys.stderr, len(sources), enabled=not json)
        for display, opener in sources:
            with opener as stream:
                result = add_document(SYSTEM, knowledge_base, stream,
                                      original_name=Path(display.split("!")[-1]).name,
                                      enqueue=not sync)
            self._record(outcome, display, result.document, duplicate=result.duplicate)
            progress.show(outcome)
        if sync and outcome.waiting:
            ingest_many(list(outcome.waiting),
                        finished=lambda: (self._collect(outcome), progress.show(outcome)),
                        chunked=lambda pk: (outcome.read.add(pk), progress.show(outcome)))
            self._collect(outcome)
        if outcome.waiting:
            self._wait_for_workers(outcome, progress)
        progress.end()
        knowledge_base.refresh_from_db()
        if sync and knowledge_base.pending_embedding_model:
            self._reembed(knowledge_base, quiet=json)
        self._report(outcome, knowledge_base, as_json=json)
        if outcome.failed:
            sys.exit(1)

    def _knowledge_base(self, slug: str, *, create: bool, language: str) -> KnowledgeBase:
        found = KnowledgeBase.objects.filter(slug=slug).first()
        if found:
            return found
        if not create:
            raise CommandError(f"no knowledge base {slug!r}; add --create to create it")
        return create_knowledge_base(SYSTEM, name=slug.replace("-", " ").title(), slug=slug,
                                     language=language)

    @staticmethod
    def _record(outcome: Outcome, display: str, document: Document, *, duplicate: bool) -> None:
        if duplicate:
            outcome.duplicates += 1
        elif document.status == DocumentStatus.FAILED:
            outcome.failed.append(_failure(display, document))
        else:
            outcome.waiting[document.pk] = display

    @staticmethod
    def _collect(outcome: Outcome) -> None:
        """Move documents that reached a final state out of `waiting`."""
        finished = Document.objects.filter(
            pk__in=outcome.waiting, status__in=[DocumentStatus.INDEXED, DocumentStatus.FAILED])
        for document in finished:
            display = outcome.waiting.pop(document.pk)
            if document.status == DocumentStatus.INDEXED:
                outcome.indexed += 1
            else:
                outcome.failed.append(_failure(display, document))
        # A document deleted meanwhile (or replaced again) is no longer ours to wait for.
        gone = set(outcome.waiting) - set(
            Document.objects.filter(pk__in=outcome.waiting).values_list("pk", flat=True))
        for document_id in gone:
            outcome.failed.append({"path": outcome.waiting.pop(document_id),
                                   "error": "deleted before it was indexed"})

    def _wait_for_workers(self, outcome: Outcome, progress: Progress) -> None:
        last_change, last_seen = time.monotonic(), None
        while outcome.waiting:
            self._collect(outcome)
            progress.show(outcome)
            state = list(Document.objects.filter(pk__in=outcome.waiting)
                         .values_list("pk", "stage", "progress"))
            outcome.read |= {pk for pk, stage, _ in state if stage in _READ_STAGES}
            if state != last_seen:
                last_change, last_seen = time.monotonic(), state
            elif time.monotonic() - last_change > WORKER_WAIT_SECONDS and not _worker_alive():
                raise CommandError(
                    f"no worker has picked up the documents in {WORKER_WAIT_SECONDS} s and none "
                    "answers: start one (make run) or use --sync. The documents stay queued.")
            time.sleep(0.5)

    def _reembed(self, kb: KnowledgeBase, *, quiet: bool) -> None:
        """--sync: the documents moved the language; re-embed here, not on a worker."""
        if not quiet:
            self.stderr.write(f"Re-embedding {kb.name} into {kb.pending_embedding_model}...")
        try:
            languages.reembed(kb.pk)
        except languages.KnowledgeBaseBusy as busy:
            self.stderr.write(f"{busy}; a worker finishes the re-embedding afterwards.")
        kb.refresh_from_db()

    def _report(self, outcome: Outcome, kb: KnowledgeBase, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({
                "indexed": outcome.indexed, "duplicates": outcome.duplicates,
                "failed": outcome.failed, "language": _language_json(kb)},
                ensure_ascii=False))
            return
        self.stdout.write(f"Indexed {outcome.indexed}, duplicates {outcome.duplicates}, "
                          f"failed {len(outcome.failed)}.")
        self.stdout.write(f"Language: {languages.summary(kb)}")
        for failure in outcome.failed:
            self.stdout.write(self.style.ERROR(f"  {failure['path']}: {failure['error']}"))


def _language_json(kb: KnowledgeBase) -> dict[str, str]:
    return {"setting": kb.language, "detected": kb.detected_language,
            "embedding_model": kb.embedding_model,
            "pending_embedding_model": kb.pending_embedding_model,
            "reason": languages.summary(kb)}


def _failure(display: str, document: Document) -> dict:
    """A failed file in the report: its reason for people and its code for scripts."""
    return {"path": display, "error": document.error, "code": document.error_code}


def _worker_alive() -> bool:
    from citewise.celery import app

    return bool(app.control.ping(timeout=2.0, limit=1))
