"""The reconciler: the database says what work is owed; queue again what no task will do.

The broker is not the source of truth. A worker killed mid-task, a Redis restarted
without persistence or flushed, a web process that died between committing a deletion
and changing the index files: each leaves work that the database still describes. The
reconciler reads it and queues it again; the tasks are idempotent (pipeline.py,
languages.reembed), so queueing something twice costs one quick "nothing to do".

It runs (1) every CITEWISE_RECONCILE_SECONDS from the worker that runs `--beat`, (2) when
any worker starts, and (3) on demand: `manage.py reconcile`.

What it queues again:
- documents processing whose lease expired (their worker died), or queued and untouched
  for a lease period (their message was lost);
- every queued or processing document at once when the broker lost its messages: a
  marker key it keeps in Redis is gone (a restart without persistence, a FLUSHALL);
- re-embeddings pending whose lease expired (their worker died);
and it applies index removals left by a process that died after its deletion committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from citewise.celery import app as celery_app
from citewise.knowledge import indexing
from citewise.knowledge.languages import reembedding_lease_free
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase

logger = logging.getLogger(__name__)

# Kept in the broker's Redis database; its absence means the queues were emptied.
BROKER_MARKER = "citewise:reconciler:broker-marker"


@dataclass
class Reconciled:
    documents: list[int] = field(default_factory=list)
    reembeddings: list[int] = field(default_factory=list)
    index_removals: int = 0
    broker_emptied: bool = False

    def as_dict(self) -> dict:
        return {"documents": self.documents, "reembeddings": self.reembeddings,
                "index_removals": self.index_removals, "broker_emptied": self.broker_emptied}


def reconcile() -> Reconciled:
    """Queue again the work the database owes and no task will do (see the module)."""
    from citewise.knowledge.tasks import ingest_document, reembed_knowledge_base

    done = Reconciled(broker_emptied=broker_emptied())
    done.documents = _owed_documents(everything_queued=done.broker_emptied)
    for document_id in done.documents:
        ingest_document.delay(document_id)
    done.reembeddings = _owed_reembeddings()
    for kb_id in done.reembeddings:
        reembed_knowledge_base.delay(kb_id)
    done.index_removals = indexing.apply_removals()
    if done.documents or done.reembeddings or done.index_removals:
        logger.info("reconciler: %s", done.as_dict())
    return done


def broker_emptied() -> bool:
    """True when the broker's Redis no longer holds the reconciler's marker (restarted
    empty or flushed: its queued tasks are gone); sets the marker again. Always False
    for other brokers."""
    with celery_app.connection_for_write() as connection:
        if connection.transport.driver_type != "redis":
            return False
        client = connection.default_channel.client
        return bool(client.set(BROKER_MARKER, timezone.now().isoformat(), nx=True))


def _owed_documents(*, everything_queued: bool) -> list[int]:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    dead_worker = Q(status=DocumentStatus.PROCESSING) & (
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, updated_at__lt=stale))
    lost_message = Q(status=DocumentStatus.QUEUED) & (
        Q() if everything_queued else Q(updated_at__lt=stale))
    owed = Document.objects.filter(dead_worker | lost_message)
    ids = list(owed.values_list("pk", flat=True))
    # Touched, so a long queue is not queued again at every run, only once a lease period.
    Document.objects.filter(pk__in=ids, status=DocumentStatus.QUEUED).update(updated_at=now)
    return ids


def _owed_reembeddings() -> list[int]:
    return list(KnowledgeBase.objects.exclude(pending_embedding_model="")
                .filter(reembedding_lease_free()).values_list("pk", flat=True))
