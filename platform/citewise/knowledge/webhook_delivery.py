"""Sending a knowledge base's webhook when a document finishes ingestion.

1. The pipeline (or an upload refused as too large) calls ``document_finished`` once the
   document's final status is saved. With a webhook URL set, it records a
   WebhookDelivery and enqueues ``deliver_webhook`` when the transaction commits.
2. The task calls ``attempt``: one signed POST (webhooks.py), recorded on the row. A 2xx
   answer delivers it; anything else (another status, a timeout, a refused connection)
   is retried after a doubling wait, up to CITEWISE_WEBHOOK_MAX_ATTEMPTS attempts in all;
   then the delivery is marked failed and logged.

The document's status never depends on its webhook: the event is recorded after the
status is saved, and a broker that refuses the task only logs (robust on_commit).
"""

from __future__ import annotations

import json
import logging
import time
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from citewise.knowledge.models import (
    DeliveryState,
    Document,
    DocumentStatus,
    KnowledgeBase,
    WebhookDelivery,
    WebhookEvent,
)
from citewise.knowledge.tasks import deliver_webhook
from citewise.knowledge.webhooks import sign

logger = logging.getLogger(__name__)

# Longest wait between two attempts, however many are configured.
MAX_RETRY_SECONDS = 3600
USER_AGENT = "Citewise-Webhook/1"
NO_URL = "the knowledge base has no webhook URL any more"


def payload(document: Document, event: str) -> dict:
    """The JSON body: event, knowledge base slug, the document's outcome, and when (ISO
    8601, UTC). ``error`` is null for an indexed document; ``chunks`` counts its passages."""
    failed = document.status == DocumentStatus.FAILED
    return {
        "event": event,
        "knowledge_base": document.knowledge_base.slug,
        "document": {
            "id": document.pk,
            "name": document.original_name,
            "title": document.title,
            "status": document.status,
            "error": {"code": document.error_code, "message": document.error} if failed
            else None,
            "chunks": document.chunks.count(),
        },
        "occurred_at": timezone.now().isoformat(),
    }


def document_finished(document: Document) -> WebhookDelivery | None:
    """Record the indexed/failed event of a document whose final status is saved, and
    send it once the current transaction commits. None when its knowledge base has no
    webhook (read afresh: an admin may have set one while the document was ingested)."""
    url = (KnowledgeBase.objects.filter(pk=document.knowledge_base_id)
           .values_list("webhook_url", flat=True).first())
    if not url:
        return None
    event = (WebhookEvent.DOCUMENT_INDEXED if document.status == DocumentStatus.INDEXED
             else WebhookEvent.DOCUMENT_FAILED)
    delivery = WebhookDelivery.objects.create(
        knowledge_base_id=document.knowledge_base_id, document=document, event=event,
        payload=payload(document, event), url=url)
    transaction.on_commit(partial(deliver_webhook.delay, delivery.pk), robust=True)
    return delivery


def attempt(delivery_id: int) -> float | None:
    """Make the next attempt of a pending delivery and record it.

    Returns the seconds to wait before the following attempt, or None when there is
    nothing more to do: delivered, given up, or not pending (gone, or already delivered
    by an earlier run of the task).
    """
    delivery = (WebhookDelivery.objects.select_related("knowledge_base")
                .filter(pk=delivery_id, state=DeliveryState.PENDING).first())
    if delivery is None:
        return None
    kb = delivery.knowledge_base
    delivery.attempts += 1
    delivery.url = kb.webhook_url
    if kb.webhook_url:
        delivery.last_status_code, delivery.last_error = post(delivery, kb.webhook_secret)
    else:
        delivery.last_status_code, delivery.last_error = None, NO_URL
    retry_in = _conclude(delivery)
    delivery.save(update_fields=["attempts", "url", "last_status_code", "last_error", "state",
                                 "delivered_at"])
    return retry_in


def post(delivery: WebhookDelivery, secret: str) -> tuple[int | None, str]:
    """POST the signed payload to delivery.url: (status code or None, error or "")."""
    body = json.dumps(delivery.payload, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Citewise-Event": delivery.event,
        "Citewise-Delivery": str(delivery.pk),
        "Citewise-Timestamp": timestamp,
        "Citewise-Signature": sign(secret, timestamp, body),
    }
    import httpx  # lazy: only the worker sends webhooks; every process imports this module

    try:
        # Redirects are not followed: the signed body goes only where the admin said.
        response = httpx.post(delivery.url, content=body, headers=headers,
                              timeout=settings.WEBHOOK_TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:1000]
    if response.is_success:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:500]}"


def _conclude(delivery: WebhookDelivery) -> float | None:
    """Set the state after an attempt, log it, and return the wait before the next one."""
    label = (delivery.pk, delivery.event, delivery.knowledge_base.slug, delivery.attempts)
    if not delivery.last_error:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = timezone.now()
        logger.info("webhook delivery %s (%s, %s) delivered on attempt %d", *label)
        return None
    if delivery.url and delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        wait = min(settings.WEBHOOK_RETRY_SECONDS * 2 ** (delivery.attempts - 1),
                   MAX_RETRY_SECONDS)
        logger.warning("webhook delivery %s (%s, %s) attempt %d failed: %s; next in %.1f s",
                       *label, delivery.last_error, wait)
        return wait
    delivery.state = DeliveryState.FAILED
    logger.error("webhook delivery %s (%s, %s) gave up after attempt %d: %s",
                 *label, delivery.last_error)
    return None
