"""Redis restarted empty (as after a crash without persistence, or a FLUSHALL) while
documents wait and one is being ingested: nothing is lost. The running document finishes
on its worker; the queued ones, whose messages are gone, are queued again by the
reconciler from the database (knowledge/reconcile.py), which notices that the broker lost
its marker key. Each document is ingested once, without duplicate chunks.

The Redis here is a private redis-server on its own port (tests/faults.py); the worker
runs the beat, with the reconciler every 2 s instead of every minute."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.conf import settings

from citewise.knowledge.models import Document, DocumentStatus, IngestionAttempt
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import add_document
from tests.factories import make_kb
from tests.faults import PrivateRedis, celery_broker
from tests.integration.test_ingestion import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def redis(tmp_path):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the broker under test is Redis (set REDIS_URL)")
    server = PrivateRedis(tmp_path)
    with celery_broker(server.url):
        yield server
    server.stop()


def long_manual() -> bytes:
    return "\n\n".join(
        f"## Procedure {n}\n\nStep one of procedure {n} is to check valve {n}. "
        f"Step two is to log the pressure of line {n} in the maintenance book."
        for n in range(120)).encode()


def test_redis_restarted_empty_loses_no_document(redis, own_worker):
    kb = make_kb("plant")
    # One document per task: the waiting documents depend on their queued messages alone
    # (a task that goes on with its knowledge base's queue would take them itself).
    own_worker("beat", beat=True, CELERY_BROKER_URL=redis.url, REDIS_URL=redis.url,
               CITEWISE_RECONCILE_SECONDS="2", CITEWISE_EMBED_BATCH_SIZE="1",
               CITEWISE_EMBEDDING_BACKEND="onnx",
               CITEWISE_INGEST_BATCH_SECONDS="0")
    running = add_document(SYSTEM, kb, BytesIO(long_manual()),
                           original_name="procedures.md").document
    waiting = [add_document(SYSTEM, kb, BytesIO(f"# Note {n}\n\nValve {n} is blue.".encode()),
                            original_name=f"note-{n}.md").document for n in range(3)]
    wait_for(lambda: Document.objects.filter(pk=running.pk, stage="embedding",
                                             progress__gt=0.3).exists())
    assert not Document.objects.filter(pk__in=[d.pk for d in waiting]).exclude(
        status=DocumentStatus.QUEUED).exists()

    redis.restart_empty()  # the queued messages are gone

    wait_for(lambda: not kb.documents.exclude(status=DocumentStatus.INDEXED).exists())
    for document in [running, *waiting]:
        assert IngestionAttempt.objects.filter(document=document).count() == 1
        ordinals = list(document.chunks.values_list("ordinal", flat=True))
        assert len(ordinals) == len(set(ordinals)) == max(ordinals) + 1
