"""Processes killed with SIGKILL mid-work: a worker mid-embedding, a worker mid-re-index,
a web process between committing a deletion and changing the index files. Once a new
worker starts (it runs the reconciler, knowledge/reconcile.py), the work completes with
no duplicate chunks and the index holds exactly the live chunks.

Kept in its own module so that no module-wide worker competes for the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from io import BytesIO

import pytest
from django.db import connection
from django.utils import timezone

from citewise.knowledge import administration, indexing
from citewise.knowledge.models import (
    Chunk,
    Document,
    DocumentStatus,
    IndexRemoval,
    IngestionAttempt,
    KnowledgeBase,
)
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document
from retrieval.errors import IndexMissing
from tests.factories import load_document, make_kb
from tests.helpers import REPO_ROOT
from tests.integration.test_ingestion import wait_for
from tests.workers import database_url

pytestmark = pytest.mark.django_db(transaction=True)


SECTIONS = "\n\n".join(
    f"## Procedure {n}\n\nStep one of procedure {n} is to check valve {n}. "
    f"Step two is to log the pressure of line {n} in the maintenance book."
    for n in range(120))


def indexed_counts(kb: KnowledgeBase) -> tuple[int, int]:
    """Chunks in the knowledge base's vector and lexical index files."""
    return (indexing.vector_store().manifest(kb.index_key)["count"],
            indexing.lexical_store().manifest(kb.index_key)["count"])


def live_chunks(kb: KnowledgeBase) -> int:
    return indexing.searchable_chunks(kb).count()


def test_a_killed_worker_leaves_the_document_to_finish_without_duplicates(own_worker):
    kb = make_kb("manuals")
    sections = SECTIONS
    # Tiny batches so the embedding stage lasts long enough to be interrupted.
    # One passage per batch on ONNX fp32: bf16 passages (where the CPU has it) embed this
    # document so fast that the whole re-embedding could end between two looks.
    slow = own_worker("slow", CITEWISE_EMBED_BATCH_SIZE="1", CITEWISE_EMBEDDING_BACKEND="onnx")
    document = add_document(SYSTEM, kb, BytesIO(sections.encode()),
                            original_name="procedures.md").document
    wait_for(lambda: Document.objects.filter(pk=document.pk, stage="embedding",
                                             progress__gt=0.3).exists())
    slow.kill()
    document.refresh_from_db()
    assert document.status == DocumentStatus.PROCESSING
    embedded_before = document.chunks.exclude(embedding=None).count()
    assert 0 < embedded_before < document.chunks.count()
    # The dead worker's lease would expire after CITEWISE_INGEST_LEASE_SECONDS; expire it
    # now instead of waiting ten minutes.
    Document.objects.filter(pk=document.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1))

    own_worker("replacement")  # resumes stalled documents when it starts
    wait_for(lambda: Document.objects.get(pk=document.pk).status == DocumentStatus.INDEXED)
    ordinals = list(document.chunks.values_list("ordinal", flat=True))
    assert len(ordinals) == len(set(ordinals)) == max(ordinals) + 1
    assert not document.chunks.filter(embedding=None).exists()
    assert IngestionAttempt.objects.filter(document=document).count() == 2


def test_a_worker_killed_mid_reindex_leaves_it_to_finish(own_worker):
    kb = make_kb("manuals")
    load_document(kb, "procedures.md", SECTIONS)
    chunks = Chunk.objects.filter(knowledge_base=kb)
    total = chunks.count()
    # One passage per batch on ONNX fp32: bf16 passages (where the CPU has it) embed this
    # document so fast that the whole re-embedding could end between two looks.
    slow = own_worker("slow", CITEWISE_EMBED_BATCH_SIZE="1", CITEWISE_EMBEDDING_BACKEND="onnx")
    administration.reindex(SYSTEM, kb)
    wait_for(lambda: chunks.exclude(next_embedding=None).count() > total // 4)
    slow.kill()
    assert 0 < chunks.exclude(next_embedding=None).count() < total
    kb.refresh_from_db()
    assert kb.pending_embedding_model  # not swapped: the old index still serves
    # The dead task's lease would expire after CITEWISE_INGEST_LEASE_SECONDS.
    KnowledgeBase.objects.filter(pk=kb.pk).update(
        reembed_lease_expires_at=timezone.now() - timedelta(seconds=1))

    own_worker("replacement")  # reconciles when it starts
    wait_for(lambda: KnowledgeBase.objects.filter(
        pk=kb.pk, pending_embedding_model="", reembed_lease_expires_at=None).exists())
    assert chunks.count() == total
    assert not chunks.filter(embedding=None).exists()
    assert not chunks.exclude(next_embedding=None).exists()
    assert indexed_counts(kb) == (total, total)


def die_after_commit(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a process that is SIGKILLed as soon as a deletion commits, before
    it changes the index files (its IndexRemoval applied on commit)."""
    script = ("import os, signal, django\n"
              "django.setup()\n"
              "from citewise.knowledge import indexing\n"
              "from citewise.knowledge.models import Document, KnowledgeBase\n"
              "from citewise.knowledge.permissions import SYSTEM\n"
              "from citewise.knowledge import services\n"
              "indexing.apply_removal = lambda removal: os.kill(os.getpid(), signal.SIGKILL)\n"
              + code)
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
           "DJANGO_SETTINGS_MODULE": "citewise.settings",
           "PYTHONPATH": f"{REPO_ROOT / 'platform'}{os.pathsep}{REPO_ROOT}"}
    return subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_process_killed_mid_deletion_leaves_no_orphaned_index_entries(own_worker):
    kept = make_kb("kept")
    load_document(kept, "procedures.md", SECTIONS)
    doomed = load_document(kept, "notes.md", "# Notes\n\nValve 7 is painted blue.")
    gone = make_kb("gone")
    load_document(gone, "minutes.md", "# Minutes\n\nThe board met on Monday.")

    died = die_after_commit(
        f"services.delete_document(SYSTEM, Document.objects.get(pk={doomed.pk}))")
    assert died.returncode == -signal.SIGKILL, died.stderr
    died = die_after_commit(
        f"services.delete_knowledge_base(SYSTEM, KnowledgeBase.objects.get(pk={gone.pk}))")
    assert died.returncode == -signal.SIGKILL, died.stderr
    # Committed, but the index files still hold what was deleted.
    assert not Document.objects.filter(pk=doomed.pk).exists()
    assert indexed_counts(kept)[0] > live_chunks(kept)
    assert indexing.vector_store().manifest(gone.index_key)["count"] > 0
    assert IndexRemoval.objects.count() == 2

    own_worker("replacement")  # reconciles when it starts
    wait_for(lambda: not IndexRemoval.objects.exists())
    assert indexed_counts(kept) == (live_chunks(kept), live_chunks(kept))
    for store in (indexing.vector_store(), indexing.lexical_store()):
        with pytest.raises(IndexMissing):
            store.manifest(gone.index_key)


def test_ingest_sync_killed_between_its_index_writes_loses_no_document(tmp_path):
    """`ingest --sync` parses ahead and writes the indexes once per group of documents
    (pipeline.ingest_many). Killed between two groups' index writes, it leaves each
    document either indexed or held with what it had made: once the leases expire,
    the worker's ingest() finishes every one, without duplicates, and the index files
    hold exactly the live chunks."""
    folder = tmp_path / "manuals"
    folder.mkdir()
    for n in range(6):
        (folder / f"valve-{n}.md").write_text(
            f"# Valve {n}\n\nValve {n} is checked every {n + 2} weeks by the night shift.\n")
    kb = make_kb("manuals")
    script = ("import os, signal, django\n"
              "django.setup()\n"
              "from django.core.management import call_command\n"
              "from citewise.knowledge import indexing, pipeline\n"
              "pipeline.INDEX_TOGETHER = 1  # one group per document\n"
              "writes = []\n"
              "real = indexing.index_chunks\n"
              "def index_chunks(kb, chunks):\n"
              "    writes.append(1)\n"
              "    if len(writes) == 2:\n"
              "        os.kill(os.getpid(), signal.SIGKILL)\n"
              "    real(kb, chunks)\n"
              "indexing.index_chunks = index_chunks\n"
              f"call_command('ingest', {str(folder)!r}, kb='manuals', sync=True, json=True)\n")
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
           "DJANGO_SETTINGS_MODULE": "citewise.settings",
           "PYTHONPATH": f"{REPO_ROOT / 'platform'}{os.pathsep}{REPO_ROOT}"}
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    documents = Document.objects.filter(knowledge_base=kb)
    assert documents.count() == 6
    assert documents.filter(status=DocumentStatus.INDEXED).count() == 1
    held = documents.filter(status=DocumentStatus.PROCESSING)
    assert held.exclude(chunks=None).exists()  # the second group: chunked, embedded
    assert live_chunks(kb) == indexed_counts(kb)[0] == indexed_counts(kb)[1]

    # What the reconciler does once the dead process's leases expire: queue them again.
    documents.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    for document in documents.exclude(status=DocumentStatus.INDEXED):
        assert ingest(document.pk) == DocumentStatus.INDEXED
    assert documents.filter(status=DocumentStatus.INDEXED).count() == 6
    for document in documents:
        ordinals = list(document.chunks.values_list("ordinal", flat=True))
        assert len(ordinals) == len(set(ordinals)) == max(ordinals) + 1
    assert live_chunks(kb) == indexed_counts(kb)[0] == indexed_counts(kb)[1] == \
        Chunk.objects.filter(knowledge_base=kb).count()
