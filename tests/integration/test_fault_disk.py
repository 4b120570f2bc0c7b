"""The data directory's disk fills up: an upload is refused with 507 and a reason in the
reader's language (code storage_full), and leaves neither a document row nor a partial
file; a document whose index files cannot be written fails as storage_full, and the
index it would have changed stays as it was (no partial swap). Once space is back, the
same processes take uploads again and the failed document is retried to the end.

The data directory is a 4 MB tmpfs mounted for the test (root only; skipped otherwise)."""

from __future__ import annotations

import httpx
import pytest
from django.conf import settings

from citewise.knowledge.models import Document, DocumentStatus
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.uploads import retry_document
from retrieval.vector_store import VectorStore
from tests.factories import make_kb, make_user
from tests.faults import fill, small_filesystem
from tests.integration.api_support import new_key
from tests.integration.live_server import start_server
from tests.integration.test_ingestion import wait_for
from tests.integration.test_ingestion_recovery import SECTIONS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker,
              pytest.mark.faiss_files]


@pytest.fixture
def data_dir(tmp_path):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the worker must share the broker (set REDIS_URL)")
    with small_filesystem(tmp_path / "data", 4) as folder:
        yield folder


def upload(http: httpx.Client, slug: str, name: str, content: bytes, *,
           language: str = "en") -> httpx.Response:
    return http.post("/api/v1/documents", data={"knowledge_base": slug},
                     files={"file": (name, content)}, headers={"Accept-Language": language})


def test_a_full_disk_refuses_cleanly_and_service_resumes(data_dir, own_worker):
    kb = make_kb("plant")
    editor = make_user("editor")
    kb.editor_users.add(editor)
    key = new_key(editor, [kb], operations=("ask", "search", "documents"))
    on_small_disk = {"CITEWISE_DATA_DIR": str(data_dir), "CITEWISE_SECRET_KEY": settings.SECRET_KEY}
    server = start_server(**on_small_disk)
    # Test workers take their settings from tests.django_settings, which sets the data
    # directory from CITEWISE_TEST_DATA_DIR.
    own_worker("disk", CITEWISE_TEST_DATA_DIR=str(data_dir), **on_small_disk)
    vectors = VectorStore(data_dir / "indexes")
    try:
        http = httpx.Client(base_url=next(server), timeout=60,
                            headers={"Authorization": f"Bearer {key}"})
        first = upload(http, kb.slug, "valves.md", b"# Valves\n\nValve 7 is painted blue.")
        assert first.status_code == 201, first.text
        done = wait_for(lambda: Document.objects.filter(
            pk=first.json()["id"], status__in=[DocumentStatus.INDEXED, DocumentStatus.FAILED]
        ).first())
        assert done.status == DocumentStatus.INDEXED, (done.error, done.stored_path,
                                                       sorted(map(str, data_dir.rglob("*"))))
        before = vectors.manifest(kb.index_key)

        filler = fill(data_dir, leave_bytes=0)
        refused = upload(http, kb.slug, "pumps.md", b"# Pumps\n\nPump 3 is green." * 500,
                         language="ko")
        assert refused.status_code == 507
        assert refused.json()["code"] == "storage_full"
        assert "디스크" in refused.json()["detail"]
        assert kb.documents.count() == 1
        assert not list((data_dir / "originals").glob(".upload-*"))

        # Room for the file, not for the index files it makes.
        filler.unlink()
        filler = fill(data_dir, leave_bytes=24 * 1024)
        stuck = upload(http, kb.slug, "procedures.md", SECTIONS.encode())
        assert stuck.status_code == 201, stuck.text
        document = wait_for(lambda: Document.objects.filter(
            pk=stuck.json()["id"], status=DocumentStatus.FAILED).first())
        assert document.error_code == "storage_full"
        assert vectors.manifest(kb.index_key) == before  # the old index still serves
        assert not list((data_dir / "indexes").rglob("*.tmp"))

        filler.unlink()
        retry_document(SYSTEM, document)
        wait_for(lambda: Document.objects.get(pk=document.pk).status == DocumentStatus.INDEXED)
        assert vectors.manifest(kb.index_key)["count"] == kb.chunks.count()
        again = upload(http, kb.slug, "pumps.md", b"# Pumps\n\nPump 3 is green.")
        assert again.status_code == 201, again.text
    finally:
        next(server, None)
