"""Originals in S3-compatible object storage (CITEWISE_ORIGINALS_STORAGE=s3): an upload
goes to the bucket, not the data directory; it is ingested, its citation opens the PDF
page and the original downloads from the bucket; deleting the document deletes the
object; an unreachable bucket refuses an upload, and fails an ingestion, with the code
storage_unavailable.

The bucket is served by moto's standalone server (tests/object_store.py), which stands
in for the real object store (S3, MinIO, Ceph): Citewise reaches it over HTTP through
the same django-storages and boto3 client."""

from __future__ import annotations

import json
import tarfile
from io import BytesIO
from pathlib import Path

import pytest
from django.conf import settings

from citewise.knowledge.models import Chunk, Document, DocumentStatus
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document, delete_document
from citewise.ops.backup import create_backup
from tests.factories import load_document, make_kb, make_user
from tests.integration.api_support import ApiClient, assert_problem, new_key
from tests.integration.live_server import free_port
from tests.object_store import ObjectStore, run_object_store

pytestmark = pytest.mark.django_db(transaction=True)

GUIDE = (Path(__file__).parents[1] / "data" / "cases" / "10-pdf-blank-page-citation"
         / "building-guide.pdf").read_bytes()


@pytest.fixture(scope="module")
def object_store(tmp_path_factory):
    yield from run_object_store(free_port(), tmp_path_factory.mktemp("s3") / "moto.log")


@pytest.fixture
def in_bucket(object_store, settings):
    settings.ORIGINALS_STORAGE = "s3"
    settings.STORAGES = object_store.storages(settings.STORAGES)
    return object_store


@pytest.fixture
def unreachable_bucket(settings):
    """Originals in a bucket at an address nobody answers: the object store is down."""
    down = ObjectStore(f"http://127.0.0.1:{free_port()}", "citewise-down")
    settings.ORIGINALS_STORAGE = "s3"
    settings.STORAGES = down.storages(settings.STORAGES)


def local_files() -> set[Path]:
    """The files in this node's folder of originals (other tests' included)."""
    return {path for path in (Path(settings.DATA_DIR) / "originals").rglob("*")
            if path.is_file()}


def test_an_upload_lives_in_the_bucket_and_its_citation_opens_from_it(in_bucket, client):
    kb = make_kb("building")
    # Other tests of the session may have stored the same file on local disk before.
    before = local_files()
    document = load_document(kb, "building-guide.pdf", GUIDE)
    assert in_bucket.keys() == {document.stored_path}
    # Nothing of it kept on this node's disk: neither the file nor a spooled copy.
    assert local_files() == before

    reader = make_user("kim")
    kb.reader_users.add(reader)
    client.force_login(reader)
    chunk = Chunk.objects.filter(document=document, text__contains="basement").first()
    page = client.get(f"/sources/{chunk.pk}/", {"page": 3}).content.decode()
    # The PDF's own page, read from the bucket: its image and the passage boxed on it.
    assert '<span class="cited-place">page 3</span>' in page
    assert f'src="/sources/{chunk.pk}/pages/3.png"' in page
    image = client.get(f"/sources/{chunk.pk}/pages/3.png")
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")
    original = client.get(f"/documents/{document.pk}/original")
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == GUIDE


def test_deleting_the_document_deletes_its_object(in_bucket):
    kb = make_kb("building")
    document = load_document(kb, "building-guide.pdf", GUIDE)
    assert in_bucket.keys() == {document.stored_path}
    delete_document(SYSTEM, document)
    assert in_bucket.keys() == set()
    assert not Document.objects.exists()


def test_an_unreachable_bucket_refuses_an_upload_with_a_code(unreachable_bucket):
    kb = make_kb("building")
    editor = make_user("editor")
    kb.editor_users.add(editor)
    api = ApiClient(new_key(editor, [kb], operations=("documents",)))
    before = local_files()
    refused = api.upload("guide.pdf", GUIDE, kb.slug, headers={"Accept-Language": "ko"})
    body = assert_problem(refused, 503, "storage_unavailable")
    assert "저장소" in body["detail"]  # in the reader's language
    assert refused["Retry-After"] == "30"
    assert not Document.objects.exists()
    assert local_files() == before  # the spooled copy is gone too


def test_readiness_says_whether_the_bucket_answers(object_store, settings, client):
    operator = {"REMOTE_ADDR": "127.0.0.1"}
    settings.ORIGINALS_STORAGE = "s3"
    settings.STORAGES = object_store.storages(settings.STORAGES)
    settings.S3_OPTIONS = settings.STORAGES["originals"]["OPTIONS"]
    originals = client.get("/readyz", **operator).json()["checks"]["originals"]
    assert originals["ok"] and originals["detail"] == f"bucket {object_store.bucket}"
    settings.STORAGES = ObjectStore(object_store.endpoint, "no-such-bucket").storages(
        settings.STORAGES)
    response = client.get("/readyz", **operator)
    assert response.status_code == 503
    assert response.json()["checks"]["originals"]["ok"] is False
    assert "NoSuchBucket" in response.json()["checks"]["originals"]["detail"]


def test_a_worker_that_cannot_reach_the_bucket_fails_the_document_with_a_code(
        object_store, settings):
    settings.ORIGINALS_STORAGE = "s3"
    settings.STORAGES = object_store.storages(settings.STORAGES)
    kb = make_kb("building")
    document = add_document(SYSTEM, kb, BytesIO(GUIDE), original_name="building-guide.pdf",
                            enqueue=False).document
    settings.STORAGES = ObjectStore(f"http://127.0.0.1:{free_port()}",
                                    object_store.bucket).storages(settings.STORAGES)
    ingest(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert document.error_code == "storage_unavailable"
    assert "storage" in document.error and "retry" in document.error


def test_a_backup_carries_the_originals_of_the_bucket(in_bucket, tmp_path):
    kb = make_kb("building")
    document = load_document(kb, "building-guide.pdf", GUIDE)
    target = tmp_path / "citewise.tar"
    create_backup(target, progress=lambda _line: None)
    with tarfile.open(target) as archive:
        manifest = json.loads(archive.extractfile("manifest.json").read())
        stored = archive.extractfile(f"data/{document.stored_path}").read()
    assert stored == GUIDE
    assert manifest["files"][f"data/{document.stored_path}"]["size"] == len(GUIDE)
