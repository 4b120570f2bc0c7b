"""Celery tasks of the knowledge app. They take ids and read everything else from the
database, so a task that runs twice or late does no harm (see pipeline.py)."""

from __future__ import annotations

from celery import shared_task, signals
from django.db import OperationalError

from retrieval.errors import LockTimeout

# Errors that pass by themselves: retried. Anything else ends the document as failed
# (pipeline.py), with the error's code.
TRANSIENT_ERRORS = (OperationalError, LockTimeout)


@shared_task(
    bind=True, name="citewise.knowledge.tasks.ingest_document",
    # Only what passes by itself is retried; bad input ends as a failed document.
    autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, retry_backoff_max=300,
    retry_jitter=True, max_retries=8,
)
def ingest_document(self, document_id: int) -> dict:
    from citewise.knowledge.pipeline import DocumentBusy, ingest_queued

    try:
        status = ingest_queued(document_id, task_id=self.request.id or "",
                               worker=self.request.hostname or "")
    except DocumentBusy as busy:
        return {"document": document_id, "status": "busy", "detail": str(busy)}
    return {"document": document_id, "status": status}


@shared_task(
    bind=True, name="citewise.knowledge.tasks.reembed_knowledge_base",
    # Routed to the ingestion queue (celery.py): behind the documents queued before it,
    # which moved the knowledge base's language, so the swap rarely waits for them.
    autoretry_for=TRANSIENT_ERRORS, retry_backoff=5,
    retry_backoff_max=300, retry_jitter=True, max_retries=8,
)
def reembed_knowledge_base(self, kb_id: int) -> dict:
    """Re-embed a knowledge base into its pending model (see languages.py); the old
    index serves until the swap."""
    from citewise.knowledge.languages import KnowledgeBaseBusy, reembed, renew_reembedding

    try:
        return reembed(kb_id, task_id=self.request.id or "")
    except KnowledgeBaseBusy as busy:
        # Waiting for ingestion is not a failure: no retry limit, a steady pace. The
        # retry keeps this task's id, hence its lease: nobody queues it again meanwhile.
        renew_reembedding(kb_id, self.request.id or "")
        raise self.retry(exc=busy, countdown=30, max_retries=None) from busy


@shared_task(bind=True, name="citewise.knowledge.tasks.deliver_webhook")
def deliver_webhook(self, delivery_id: int) -> dict:
    """One attempt to POST a webhook delivery; schedules the next after a failure, up to
    CITEWISE_WEBHOOK_MAX_ATTEMPTS in all (webhook_delivery.py)."""
    from citewise.knowledge.webhook_delivery import attempt

    retry_in = attempt(delivery_id)
    if retry_in is not None:
        # The delivery row counts the attempts, so Celery's own limit is not used.
        raise self.retry(countdown=retry_in, max_retries=None)
    return {"delivery": delivery_id}


@shared_task(name="citewise.knowledge.tasks.reconcile")
def reconcile() -> dict:
    """Queue again the work the database owes and no task will do (reconcile.py)."""
    from citewise.knowledge.reconcile import reconcile as run

    return run().as_dict()


@signals.worker_ready.connect
def reconcile_on_worker_start(**_: object) -> None:
    # A worker coming back resumes what a dead one left, without waiting for the beat.
    reconcile.delay()
