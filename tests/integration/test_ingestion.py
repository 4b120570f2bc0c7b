"""Documents in, searchable cited chunks out: through the command, the service and a real
worker, with duplicates, new versions, deletions, bad files and a killed worker."""

from __future__ import annotations

import json
import time
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from citewise.knowledge.models import Chunk, Document, DocumentStatus, KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.search import search
from citewise.knowledge.services import add_document, delete_document
from citewise.knowledge.storage import original_exists
from tests.factories import make_kb, make_user

pytestmark = pytest.mark.django_db(transaction=True)

VPN_GUIDE = """# Remote access

## Connecting to the VPN

Open the WireGuard client and import the profile the IT desk sent you.
The VPN must be connected before you open the finance share.

## Resetting your password

Passwords expire every 90 days. Use the self-service portal to reset yours.
"""

LEAVE_POLICY_KO = """연차 휴가 규정

직원은 입사 1년 후 15일의 연차 휴가를 받는다. 휴가 신청은 최소 3일 전에 팀장에게 제출해야 한다.
사용하지 않은 연차는 다음 해 3월까지 이월할 수 있다.
"""


def ingest_json(*args: str) -> tuple[dict, int]:
    out = StringIO()
    code = 0
    try:
        call_command("ingest", *args, "--json", stdout=out, stderr=StringIO())
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return json.loads(out.getvalue()), code


def search_json(query: str, *slugs: str) -> dict:
    out = StringIO()
    kb_args = [arg for slug in slugs for arg in ("--kb", slug)]
    call_command("search", query, *kb_args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_ingest_command_indexes_files_and_reports_failures(tmp_path):
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "vpn.md").write_text(VPN_GUIDE, encoding="utf-8")
    (folder / "leave-ko.txt").write_bytes(LEAVE_POLICY_KO.encode("cp949"))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not really a pdf")
    summary, code = ingest_json(str(folder), "--kb", "handbook", "--create", "--sync")
    assert code == 1
    assert summary["indexed"] == 2 and summary["duplicates"] == 0
    assert [f["path"] for f in summary["failed"]] == [str(folder / "broken.pdf")]
    assert summary["failed"][0]["error"]  # a reason a person can act on

    vpn = Document.objects.get(original_name="vpn.md")
    assert vpn.status == DocumentStatus.INDEXED and vpn.progress == 1.0
    chunks = list(vpn.chunks.all())
    assert chunks and all(chunk.embedding is not None for chunk in chunks)
    # Sections this small share a chunk, under the headings they have in common.
    assert all(chunk.heading_path[:1] == ["Remote access"] for chunk in chunks)

    found = search_json("how do I connect to the VPN?", "handbook")
    top = found["results"][0]
    assert found["query"] == "how do I connect to the VPN?"
    assert top["document"] == "vpn.md" and "WireGuard" in top["text"]
    assert set(top) == {"chunk_id", "document", "title", "page", "line", "heading_path", "text",
                        "score"}
    assert top["page"] is None and top["line"] >= 1  # a Markdown file has lines, not pages

    korean = search_json("연차 휴가는 며칠인가요?", "handbook")["results"][0]
    assert korean["document"] == "leave-ko.txt" and "15일" in korean["text"]


def test_the_progress_line_counts_documents_read_before_they_are_indexed(tmp_path, capsys):
    """Documents are indexed together once read, so a bar counting only indexed ones sat at
    0/N for the whole run; the line says how many are read as they are."""
    folder = tmp_path / "handbook"
    folder.mkdir()
    for n in range(3):
        (folder / f"guide-{n}.md").write_text(VPN_GUIDE.replace("VPN", f"VPN {n}"), "utf-8")
    call_command("ingest", str(folder), "--kb", "handbook", "--create", "--sync",
                 stdout=StringIO())
    lines = [line for line in capsys.readouterr().err.split("\r") if line.startswith("[")]
    read_before_indexed = [line for line in lines if "indexed 0," in line]
    assert [line.split("read ")[1].split(",")[0] for line in read_before_indexed][-1] == "3"
    assert lines[-1].strip().startswith(f"[{'#' * 30}] 3/3  read 3, indexed 3")


def test_same_content_is_a_duplicate_and_a_new_version_replaces_the_old(tmp_path):
    guide = tmp_path / "vpn.md"
    guide.write_text(VPN_GUIDE, encoding="utf-8")
    ingest_json(str(guide), "--kb", "it", "--create", "--sync")
    first_chunks = set(Chunk.objects.values_list("pk", flat=True))

    summary, code = ingest_json(str(guide), "--kb", "it", "--sync")
    assert (summary["duplicates"], summary["indexed"], code) == (1, 0, 0)
    assert set(Chunk.objects.values_list("pk", flat=True)) == first_chunks

    guide.write_text(VPN_GUIDE.replace("WireGuard", "OpenVPN"), encoding="utf-8")
    summary, _ = ingest_json(str(guide), "--kb", "it", "--sync")
    assert summary["indexed"] == 1
    (current,) = Document.objects.filter(original_name="vpn.md")
    assert current.version == 2
    assert not set(Chunk.objects.values_list("pk", flat=True)) & first_chunks
    texts = " ".join(r["text"] for r in search_json("VPN client", "it")["results"])
    assert "OpenVPN" in texts and "WireGuard" not in texts


def test_deleting_a_document_removes_its_chunks_index_entries_and_file(tmp_path):
    guide = tmp_path / "vpn.md"
    guide.write_text(VPN_GUIDE, encoding="utf-8")
    ingest_json(str(guide), "--kb", "it", "--create", "--sync")
    document = Document.objects.get()
    original = document.stored_path
    assert original_exists(original)
    delete_document(SYSTEM, document)
    assert not Chunk.objects.exists()
    assert not original_exists(original)
    assert search_json("WireGuard VPN", "it")["results"] == []


def test_search_never_returns_passages_from_unreadable_knowledge_bases(tmp_path):
    hr, it = make_kb("hr"), make_kb("it")
    add_document(SYSTEM, hr, BytesIO(b"Salary bands are reviewed every April."),
                 original_name="pay.txt", enqueue=False)
    add_document(SYSTEM, it, BytesIO(b"Salary slips are in the payroll portal."),
                 original_name="portal.txt", enqueue=False)
    from citewise.knowledge.pipeline import ingest

    for document in Document.objects.all():
        ingest(document.pk)
    reader = make_user("kim")
    it.reader_users.add(reader)
    passages = search(reader, "salary")
    assert {p.knowledge_base for p in passages} == {"it"}
    with pytest.raises(PermissionDenied):
        search(reader, "salary", knowledge_bases=[hr])
    assert search(make_user("nobody"), "salary") == []


def wait_for(predicate, timeout: float = 120.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_upload_through_a_worker(celery_worker):
    kb = make_kb("it")
    result = add_document(SYSTEM, kb, BytesIO(VPN_GUIDE.encode()), original_name="vpn.md")
    assert result.document.status == DocumentStatus.QUEUED
    wait_for(lambda: Document.objects.get(pk=result.document.pk).status == DocumentStatus.INDEXED)
    assert search(SYSTEM, "WireGuard profile")[0].document == "vpn.md"


def test_a_worker_indexes_a_folder_of_uploads_together(celery_worker):
    """Documents queued together are taken by one task (parsed ahead, embedded and
    indexed together), each once: their own tasks find them done. Every one is indexed
    and searchable, with one ingestion attempt each."""
    from django.db import transaction

    from citewise.knowledge.models import IngestionAttempt

    kb = make_kb("handbook")
    topics = ["WireGuard", "printer", "badge", "parking", "laptop", "payroll"]
    with transaction.atomic():  # all queued before the first task runs
        ids = [add_document(SYSTEM, kb, BytesIO(f"# {topic}\n\nThe {topic} rule number "
                                                f"{n} is kept by the IT desk.".encode()),
                            original_name=f"{topic}.md").document.pk
               for n, topic in enumerate(topics)]
    wait_for(lambda: Document.objects.filter(pk__in=ids,
                                             status=DocumentStatus.INDEXED).count() == 6)
    for topic in topics:
        assert search(SYSTEM, f"{topic} rule", knowledge_bases=[kb])[0].document == \
            f"{topic}.md"
    attempts = IngestionAttempt.objects.filter(document_id__in=ids)
    assert sorted(attempts.values_list("document_id", flat=True)) == sorted(ids)
    assert len(set(attempts.values_list("task_id", flat=True))) < len(ids)
    assert Chunk.objects.filter(document_id__in=ids).count() == 6


def _short_and_long_notes(folder: Path) -> Path:
    """Four one-line notes and four long guides, alternating in name order."""
    folder.mkdir()
    long_section = " ".join(f"Step {n}: the laptop image is rebuilt by the IT desk." for n in
                            range(60))
    for n in range(4):
        (folder / f"short-{n}.md").write_text(f"# Note {n}\n\nBadge {n} opens door {n}.\n")
        (folder / f"long-{n}.md").write_text(f"# Guide {n}\n\n{long_section}\n")
    return folder


def _recording_embedded_lengths(monkeypatch) -> list[int]:
    """The token count of each chunk handed to the embedder, in order."""
    from citewise.knowledge import indexing

    seen: list[int] = []
    embed_and_store = indexing.embed_and_store

    def recording(embedder, chunks, *rest):
        seen.extend(chunk.token_count for chunk in chunks)
        return embed_and_store(embedder, chunks, *rest)

    monkeypatch.setattr(indexing, "embed_and_store", recording)
    return seen


def test_a_folder_is_embedded_longest_first_so_short_chunks_are_not_padded(tmp_path,
                                                                          monkeypatch):
    """A forward pass pads its texts to the longest one: the chunks of the documents
    ingested together reach the embedder longest first, whatever their documents' order,
    and each is embedded exactly once."""
    seen = _recording_embedded_lengths(monkeypatch)
    folder = _short_and_long_notes(tmp_path / "mixed")
    report, code = ingest_json(str(folder), "--kb", "mixed", "--create", "--sync")
    assert code == 0 and report["indexed"] == 8
    assert len(seen) == Chunk.objects.filter(knowledge_base__slug="mixed").count()
    assert seen == sorted(seen, reverse=True)
    assert seen[0] > 4 * seen[-1]


def test_a_re_embedding_embeds_longest_first_in_every_batch(tmp_path, monkeypatch, settings):
    """Moving a knowledge base to another model embeds all its chunks again: in small
    batches, longest first as ingestion does, each chunk once."""
    from citewise.knowledge import indexing

    folder = _short_and_long_notes(tmp_path / "notes")
    report, code = ingest_json(str(folder), "--kb", "notes", "--create", "--sync")
    assert code == 0 and report["indexed"] == 8
    kb = KnowledgeBase.objects.get(slug="notes")
    settings.EMBED_BATCH_SIZE = 3
    seen = _recording_embedded_lengths(monkeypatch)
    assert indexing.embed_next(kb, kb.embedding_model) == kb.chunks.count() == len(seen)
    assert seen == sorted(seen, reverse=True) and seen[0] > 4 * seen[-1]
    assert not kb.chunks.filter(next_embedding=None).exists()


def test_on_a_cpu_with_bf16_products_passages_are_embedded_in_bf16_and_fp32_queries_find_them(
        tmp_path, monkeypatch):
    """Mocked: the CPU's feature flags (whether a machine multiplies bf16 natively is its
    draw); the model, torch, both indexes and the search are real. Ingestion embeds the
    passages on the bulk backend, a search embeds its query on the recorded one and still
    ranks them as it would have."""
    from citewise.knowledge import indexing
    from retrieval import embedder as embedder_module

    monkeypatch.setattr(embedder_module, "_cpu_flags", lambda: {"avx512f", "amx_bf16"})
    monkeypatch.setattr(embedder_module, "_gpu_present", lambda: False)
    embedder_module._resolved.cache_clear()  # choices made before the flags changed
    backends: list[str] = []
    embed_and_store = indexing.embed_and_store

    def recording(embedder, chunks, *rest):
        backends.append(embedder.backend)
        return embed_and_store(embedder, chunks, *rest)

    monkeypatch.setattr(indexing, "embed_and_store", recording)
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "vpn.md").write_text(VPN_GUIDE, encoding="utf-8")
    (folder / "printers.md").write_text(
        "# Printers\n\nThe third-floor printer takes badge releases; toner is in room 3.12.\n",
        encoding="utf-8")
    try:
        report, code = ingest_json(str(folder), "--kb", "amx", "--create", "--sync")
        assert code == 0 and report["indexed"] == 2
        assert set(backends) == {"openvino-bf16"}
        hits = search_json("Which client do I open to connect to the VPN?", "amx")["results"]
        assert "WireGuard" in hits[0]["text"]
        assert indexing.embedder_for(KnowledgeBase.objects.get(slug="amx")).backend == "onnx"
    finally:
        embedder_module._resolved.cache_clear()


def test_ingest_without_sync_hands_the_folder_to_a_worker_and_reports_it_done(
        celery_worker, tmp_path, capsys):
    """Without --sync the command queues the files, waits for the worker and reports the
    same summary and progress line as --sync does."""
    folder = tmp_path / "handbook"
    folder.mkdir()
    for n in range(3):
        (folder / f"guide-{n}.md").write_text(VPN_GUIDE.replace("VPN", f"VPN {n}"), "utf-8")
    out = StringIO()
    call_command("ingest", str(folder), "--kb", "handbook", "--create", stdout=out)
    assert out.getvalue().startswith("Indexed 3, duplicates 0, failed 0.")
    lines = [line for line in capsys.readouterr().err.split("\r") if line.startswith("[")]
    assert lines[-1].strip().startswith(f"[{'#' * 30}] 3/3  read 3, indexed 3")
    assert search(SYSTEM, "VPN 2 WireGuard")[0].document == "guide-2.md"


def test_a_damaged_index_is_rebuilt_from_the_database(tmp_path, settings):
    guide = tmp_path / "vpn.md"
    guide.write_text(VPN_GUIDE, encoding="utf-8")
    ingest_json(str(guide), "--kb", "it", "--create", "--sync")
    index_files = [p for p in settings.INDEX_DIR.rglob("*") if p.is_file()
                   and p.suffix in (".faiss", ".npz")]
    assert index_files
    for path in index_files:
        path.write_bytes(b"garbage")
    # Search rebuilds on first use...
    assert search_json("WireGuard", "it")["results"][0]["document"] == "vpn.md"
    # ...and the command rebuilds on request.
    out = StringIO()
    call_command("rebuild_indexes", "--kb", "it", stdout=out)
    assert out.getvalue().strip() == f"it: {Chunk.objects.count()} chunks indexed"


def test_zip_archives_and_a_question_list(tmp_path):
    import zipfile

    archive = tmp_path / "handbook.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("it/vpn.md", VPN_GUIDE)
        bundle.writestr("hr/leave-ko.txt", LEAVE_POLICY_KO.encode("utf-8"))
    summary, code = ingest_json(str(archive), "--kb", "handbook", "--create", "--sync")
    assert (summary["indexed"], code) == (2, 0)

    questions = tmp_path / "questions.txt"
    questions.write_text("password expiry\n\n연차 이월\n", encoding="utf-8")
    out = StringIO()
    call_command("search", "--queries", str(questions), "--kb", "handbook", "--k", "1",
                 stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["query"] for line in lines] == ["password expiry", "연차 이월"]
    assert [line["results"][0]["document"] for line in lines] == ["vpn.md", "leave-ko.txt"]
    assert all(len(line["results"]) == 1 for line in lines)


def test_a_korean_knowledge_base_created_by_ingest_reads_korean(tmp_path):
    (tmp_path / "leave-ko.txt").write_text(LEAVE_POLICY_KO, encoding="utf-8")
    summary, code = ingest_json(str(tmp_path), "--kb", "hr-ko", "--create", "--language",
                                "ko", "--sync")
    assert (summary["indexed"], code) == (1, 0)
    kb = KnowledgeBase.objects.get(slug="hr-ko")
    assert (kb.language, kb.embedding_model) == ("ko", "universal-sentence-encoder-multilingual-3")
    assert search_json("연차 이월", "hr-ko")["results"][0]["document"] == "leave-ko.txt"


def test_an_oversized_upload_fails_alone_with_a_reason(tmp_path, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    (tmp_path / "big.txt").write_text("word " * 1000)
    (tmp_path / "small.md").write_text(VPN_GUIDE)
    summary, code = ingest_json(str(tmp_path), "--kb", "it", "--create", "--sync")
    assert code == 1 and summary["indexed"] == 1
    (failure,) = summary["failed"]
    assert failure["path"].endswith("big.txt")
    assert "larger than the limit of" in failure["error"]
    assert "CITEWISE_MAX_UPLOAD_MB" in failure["error"]


def test_deleting_a_knowledge_base_removes_everything_it_held(tmp_path, settings):
    from citewise.knowledge.models import KnowledgeBase
    from citewise.knowledge.services import delete_knowledge_base

    (tmp_path / "vpn.md").write_text(VPN_GUIDE)
    ingest_json(str(tmp_path), "--kb", "it", "--create", "--sync")
    kb = KnowledgeBase.objects.get(slug="it")
    index_folder = settings.INDEX_DIR / kb.index_key
    original = Document.objects.get().stored_path
    assert any(index_folder.iterdir()) and original_exists(original)
    delete_knowledge_base(SYSTEM, kb)
    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert not original_exists(original)
    assert not [p for p in index_folder.glob("*") if p.suffix in (".faiss", ".npz", ".json")]


def test_a_fault_of_citewise_ends_the_document_as_failed_internal(tmp_path, monkeypatch,
                                                                   client):
    """A bug (here: the chunker raising KeyError) must not leave the document processing,
    to be queued again forever: it fails with the code `internal`, a sentence that does
    not blame the file, and /metrics counts it."""
    from citewise.knowledge import pipeline

    def broken_chunker(*args, **kwargs):
        raise KeyError("heading_path")

    monkeypatch.setattr(pipeline, "chunk_document", broken_chunker)
    (tmp_path / "vpn.md").write_text(VPN_GUIDE)
    summary, code = ingest_json(str(tmp_path), "--kb", "it", "--create", "--sync")
    assert code == 1 and summary["failed"][0]["code"] == "internal"
    document = Document.objects.get()
    assert (document.status, document.error_code) == (DocumentStatus.FAILED, "internal")
    assert "error of its own" in document.error and "KeyError" not in document.error
    assert "KeyError" in document.attempts.get().error  # the detail, for the administrator
    metrics = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'citewise_documents_failed{code="internal"} 1.0' in metrics
    assert 'citewise_documents{status="failed"} 1.0' in metrics
