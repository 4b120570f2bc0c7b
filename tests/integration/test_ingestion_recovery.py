"""A worker killed mid-embedding: another worker finishes the document, no duplicates.

Kept in its own module so that no module-wide worker competes for the document."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from django.utils import timezone

from citewise.knowledge.models import Document, DocumentStatus, IngestionAttempt
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import add_document
from tests.factories import make_kb
from tests.integration.test_ingestion import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_killed_worker_leaves_the_document_to_finish_without_duplicates(own_worker):
    kb = make_kb("manuals")
    sections = "\n\n".join(
        f"## Procedure {n}\n\nStep one of procedure {n} is to check valve {n}. "
        f"Step two is to log the pressure of line {n} in the maintenance book."
        for n in range(120))
    # Tiny batches so the embedding stage lasts long enough to be interrupted.
    slow = own_worker("slow", CITEWISE_EMBED_BATCH_SIZE="1")
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
