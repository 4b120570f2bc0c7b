"""Hostile uploads through the doors a person uses (add_upload, which the console and
the API call) and a real Celery worker, in one batch: bombs, entity expansion, external
entities, random bytes behind magic numbers, pathological HTML, a long single line,
NUL bytes, a 10,000-page PDF, path-traversal and Unicode-trick names, archives whose
members climb out of their folder. Each file ends indexed or failed with its code and a
reason, alone; the worker and its pool process live on unchanged (parsing happens in a
child of its own, see ingestion/bounded.py); no original lands outside the data
directory; no external entity is ever read. `ingest --sync` gives the same verdicts.
The guarantee when a parse dies anyway (SIGKILL, as from the OOM killer): that file fails
as parser_crashed, the files behind it are indexed, and the worker's pool process is the
same one.

Embedding dominates the batch's time, so the worker's files carry little text: its
single line is 32 KB and its 10,000-page PDF has text on every 100th page (all pages
still have a running header and footer). The 50 MB single line is read here under the
default limits, but not embedded (on CI's two cores its 40,000 passages would take most
of an hour); benchmarks/hostile_uploads.py measures both at full size."""

from __future__ import annotations

import json
import os
import signal
import unicodedata
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from citewise.celery import app as celery_app
from citewise.knowledge.models import Chunk, Document, DocumentStatus
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.storage import originals
from citewise.knowledge.uploads import add_upload
from ingestion.bounded import parse_bounded
from tests import hostile_files as hostile
from tests.factories import make_kb
from tests.integration.test_ingestion import wait_for
from tests.workers import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

INDEXED = hostile.INDEXED
WORDS = ("archive", "boiler", "canteen", "dock", "elevator", "foyer", "garage", "hangar",
         "infirmary", "janitor")
# Files an archive's members would reach if their names were followed.
TRAVERSAL_TARGETS = (Path("/tmp/citewise-zip-slip.txt"), Path("/etc/citewise-absolute.txt"))


def name_cases() -> list[hostile.Case]:
    """A small, distinct text file under each hostile name."""
    return [hostile.Case(f"name-{n}", raw,
                         lambda n=n: f"Room check {n}: the {WORDS[n]} is inspected on Mondays."
                         .encode(), frozenset({INDEXED}), needle=f"the {WORDS[n]} is inspected")
            for n, raw in enumerate(hostile.HOSTILE_NAMES)]


def archive_cases() -> list[hostile.Case]:
    """Uploaded as archives: each member is a document of its own."""
    return [
        hostile.Case("traversal-zip", "members.zip", hostile.traversal_zip,
                     frozenset({INDEXED}), needle="closes at midnight"),
        hostile.Case("nested-zip", "nested.zip", hostile.nested_zip,
                     frozenset({"unsupported_type"})),
    ]


def worker_batch(secret: Path) -> list[hostile.Case]:
    cases = [case for case in hostile.named_cases(str(secret))
             if case.label not in {"single-line-50mb", "pdf-10000-pages"}]
    cases.append(hostile.Case("single-line-32kb", "line.txt",
                              lambda: hostile.single_line(32 * 1024), frozenset({INDEXED}),
                              needle="signed contract for seven years"))
    cases.append(hostile.Case("pdf-10000-pages", "ledger.pdf",
                              lambda: hostile.many_page_pdf(every=100), frozenset({INDEXED}),
                              needle="Entry 9900 ships nine nine zero zero crates"))
    return cases + hostile.random_cases() + name_cases() + archive_cases()


def pool_processes(worker: WorkerProcess) -> list[int]:
    stats = celery_app.control.inspect(destination=[worker.hostname], timeout=10).stats()
    return stats[worker.hostname]["pool"]["processes"]


def outcome(document: Document) -> str:
    return INDEXED if document.status == DocumentStatus.INDEXED else document.error_code


def assert_plain_name(name: str) -> None:
    assert "/" not in name and "\\" not in name, name
    assert not any(unicodedata.category(c) in {"Cc", "Cf"} for c in name), ascii(name)
    assert name == unicodedata.normalize("NFC", name)
    assert len(name.encode("utf-8")) <= 200


def assert_stored_inside_the_data_directory(document: Document) -> None:
    stored = Path(originals().path(document.stored_path)).resolve()
    assert stored.is_relative_to(Path(settings.DATA_DIR).resolve()), stored
    assert stored.is_file()


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(hostile.SECRET)
    return path


def test_a_batch_of_hostile_uploads_each_ends_alone_and_the_worker_lives_on(own_worker, secret):
    worker = own_worker("hostile")
    pool_before = pool_processes(worker)
    kb = make_kb("hostile")
    uploaded: dict[str, list[Document]] = {}
    for case in worker_batch(secret):
        results = add_upload(SYSTEM, kb, BytesIO(case.make()), original_name=case.name)
        assert all(result.result is not None for result in results), case.label
        uploaded[case.label] = [result.result.document for result in results]
    wait_for(lambda: not kb.documents.filter(
        status__in=[DocumentStatus.QUEUED, DocumentStatus.PROCESSING]).exists(), timeout=600)

    cases = {case.label: case for case in worker_batch(secret)}
    for label, documents in uploaded.items():
        for document in documents:
            document.refresh_from_db()
            assert outcome(document) in cases[label].codes, (label, outcome(document),
                                                            document.error)
            if document.status == DocumentStatus.FAILED:
                assert document.error.strip() and document.error_code
            assert_plain_name(document.original_name)
            assert_stored_inside_the_data_directory(document)
        needle = cases[label].needle
        if needle and any(d.status == DocumentStatus.INDEXED for d in documents):
            assert Chunk.objects.filter(document__in=documents, text__contains=needle).exists()

    assert not Chunk.objects.filter(text__contains=hostile.SECRET).exists()
    assert not Document.objects.filter(error__contains=hostile.SECRET).exists()
    assert not any(target.exists() for target in TRAVERSAL_TARGETS)
    assert {d.original_name for d in uploaded["traversal-zip"]} == {
        "citewise-zip-slip.txt", "citewise-absolute.txt", "citewise-backslash.txt"}
    (ledger,) = uploaded["pdf-10000-pages"]
    assert ledger.page_count == 10_000
    entry = Chunk.objects.get(document=ledger, text__contains="Entry 9900 ships nine")
    assert entry.page_start <= 9900 <= entry.page_end
    assert not Chunk.objects.filter(document=ledger, text__contains="Shipment ledger").exists()

    # The same worker, with the same pool process: nothing it ran died.
    assert worker.process.poll() is None
    assert pool_processes(worker) == pool_before


def parser_process(parent: int) -> int | None:
    """The pid of a bounded parse child of `parent`: a child of the parse fork server
    (multiprocessing's forkserver, see ingestion/bounded.py) that `parent` started."""
    servers = [pid for pid, ppid, command in processes()
               if ppid == parent and b"multiprocessing.forkserver" in command]
    return next((pid for pid, ppid, _ in processes() if ppid in servers), None)


def processes() -> list[tuple[int, int, bytes]]:
    """(pid, parent pid, command line) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        # The parent pid is the second field after the parenthesised command name.
        found.append((int(entry.name), int(stat.rpartition(")")[2].split()[1]), command))
    return found


def test_a_parser_killed_mid_file_fails_that_file_alone(own_worker):
    """What the OOM killer or a crashing library does to a parse: the file fails as
    parser_crashed, the file queued behind it is indexed, the worker's pool process is
    the one it was."""
    worker = own_worker("crash")
    (pool,) = pool_processes(worker)
    kb = make_kb("crash")
    ledger = add_upload(SYSTEM, kb, BytesIO(hostile.many_page_pdf(every=100)),
                        original_name="ledger.pdf")[0].result.document
    hours = add_upload(SYSTEM, kb, BytesIO(b"# Hours\n\nThe office opens at 8:00 on weekdays.\n"),
                       original_name="hours.md")[0].result.document
    os.kill(wait_for(lambda: parser_process(pool), interval=0.05), signal.SIGKILL)
    wait_for(lambda: not kb.documents.filter(
        status__in=[DocumentStatus.QUEUED, DocumentStatus.PROCESSING]).exists())
    ledger.refresh_from_db()
    assert (ledger.status, ledger.error_code) == (DocumentStatus.FAILED, "parser_crashed")
    assert "stopped unexpectedly" in ledger.error
    hours.refresh_from_db()
    assert hours.status == DocumentStatus.INDEXED
    assert worker.process.poll() is None
    assert pool_processes(worker) == [pool]


# Refusals only: an indexed file would load the embedding model into the test process
# (test_parse_limits.py shows --sync indexing beside a refusal).
SYNC_LABELS = ("zip-bomb-docx", "lying-zip-bomb-docx", "billion-laughs-docx", "xxe-docx",
               "xxe-odd-part-name-docx", "xxe-xlsx", "nested-html", "unclosed-html")


def test_ingest_sync_gives_the_same_verdicts(tmp_path, secret):
    """The limits and checks live under the pipeline, so `ingest --sync` (no worker)
    refuses the same files with the same codes."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    cases = [case for case in hostile.named_cases(str(secret)) if case.label in SYNC_LABELS]
    for case in cases:
        (folder / case.name).write_bytes(case.make())
    out = StringIO()
    with pytest.raises(SystemExit):  # some failed
        call_command("ingest", str(folder), "--kb", "hostile-sync", "--create", "--sync",
                     "--json", stdout=out, stderr=StringIO())
    report = json.loads(out.getvalue())
    failed = {Path(item["path"]).name: item for item in report["failed"]}
    for case in cases:
        verdict = failed[case.name]["code"] if case.name in failed else INDEXED
        assert verdict in case.codes, (case.label, failed.get(case.name))
    assert report["indexed"] == 0 and len(failed) == len(cases)
    assert hostile.SECRET not in out.getvalue()
    assert not Chunk.objects.filter(text__contains=hostile.SECRET).exists()


def test_a_fifty_megabyte_single_line_is_read_within_the_default_limits(tmp_path):
    path = tmp_path / "line.txt"
    path.write_bytes(hostile.single_line())
    document = parse_bounded(path, path.name)
    text = "".join(block.text for block in document.blocks)
    assert len(text) >= 50 * hostile.MB - 100
    assert text.startswith("The archive room keeps every signed contract")
