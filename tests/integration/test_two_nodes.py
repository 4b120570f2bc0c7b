"""No node keeps state another node would miss (issue 16): two web processes (uvicorn)
and two Celery workers, each with its own data directory, share only PostgreSQL, Redis,
the object store of the originals and the vector backend, as two machines would.

A document uploaded through node A's API is ingested by whichever worker takes it,
answered at once from node B with a citation that opens its passage on B (and its
original, read from the object store); a deletion through B stops A answering from it.

The object store is moto's S3-compatible server (tests/object_store.py) and the vector
backend one Milvus Lite server on TCP (tests/milvus_server.py), standing in for the real
object store and Milvus standalone or cluster. Needs PostgreSQL and Redis (CI's
DATABASE_URL and REDIS_URL): SQLite and the filesystem broker live in one machine's
files, which is what this test rules out.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from citewise.knowledge.models import Document, DocumentStatus
from retrieval.milvus_store import PREFIX
from retrieval.stores import MILVUS
from tests.factories import make_kb, make_user
from tests.integration.api_support import new_key
from tests.integration.live_server import free_port, start_server
from tests.integration.test_ingestion import wait_for
from tests.milvus_server import drop_collections
from tests.object_store import run_object_store

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PASSWORD = "Tw0-Nodes-Share-Nothing-Local"
# Seconds a request may take: a node's first question loads its embedding model, which
# on a busy 2-core machine has taken over a minute.
REQUEST_TIMEOUT = 300
GUIDE = (b"# Loading docks\n\n## North dock\n\nThe north loading dock opens with gate code "
         b"4471 between six and ten in the morning.\n")
QUESTION = "Which gate code opens the north loading dock?"


@pytest.fixture
def shared_services(tmp_path):
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("nodes share PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)")
    yield from run_object_store(free_port(), tmp_path / "moto.log")


@pytest.fixture
def shared_milvus(milvus_uri):
    """The Milvus server's URI; the collections this test made are dropped afterwards."""
    yield milvus_uri
    if settings.VECTOR_STORE.backend != MILVUS:  # the suite's own store cleans up itself
        drop_collections(milvus_uri, PREFIX)


@pytest.fixture
def two_nodes(shared_services, shared_milvus, own_worker, tmp_path):
    """(node A's base URL, node B's, the object store, {node: its data directory},
    [the workers]): each node a web process and a worker on its own data directory."""
    shared = {**shared_services.environment(), "CITEWISE_SECRET_KEY": settings.SECRET_KEY,
              "CITEWISE_VECTOR_STORE": f"milvus:{shared_milvus}"}
    data_dirs = {name: tmp_path / name for name in ("node-a", "node-b")}
    servers = [start_server(CITEWISE_DATA_DIR=str(folder), **shared)
               for folder in data_dirs.values()]
    try:
        with ThreadPoolExecutor(2) as pool:  # the web processes start while the workers do
            bases = [pool.submit(next, server) for server in servers]
            # Test workers read their data directory from CITEWISE_TEST_DATA_DIR
            # (tests/django_settings.py).
            workers = [own_worker(name, CITEWISE_TEST_DATA_DIR=str(folder), **shared)
                       for name, folder in data_dirs.items()]
            node_a, node_b = (base.result() for base in bases)
        yield node_a, node_b, shared_services, data_dirs, workers
    finally:
        for server in servers:
            server.close()


def ask(http: httpx.Client, question: str) -> dict:
    response = http.post("/api/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def sign_in(http: httpx.Client, username: str) -> None:
    page = http.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    signed_in = http.post("/accounts/login/", data={
        "username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert signed_in.status_code == 302, signed_in.text


def test_a_document_added_on_one_node_is_answered_and_deleted_from_the_other(two_nodes):
    node_a, node_b, object_store, data_dirs, workers = two_nodes
    kb = make_kb("warehouse")
    editor = make_user("editor")
    # The web processes run the product's settings, whose hashers omit the tests' MD5.
    editor.password = PBKDF2PasswordHasher().encode(PASSWORD, "two-nodes")
    editor.save()
    kb.editor_users.add(editor)
    key = {"Authorization": f"Bearer {new_key(editor, [kb], operations=('ask', 'documents'))}"}
    api_a = httpx.Client(base_url=node_a, headers=key, timeout=REQUEST_TIMEOUT)
    api_b = httpx.Client(base_url=node_b, headers=key, timeout=REQUEST_TIMEOUT)

    uploaded = api_a.post("/api/v1/documents", data={"knowledge_base": kb.slug},
                          files={"file": ("docks.md", GUIDE)})
    assert uploaded.status_code == 201, uploaded.text
    document = wait_for(lambda: Document.objects.filter(
        pk=uploaded.json()["id"], status__in=[DocumentStatus.INDEXED, DocumentStatus.FAILED],
    ).first())
    assert document.status == DocumentStatus.INDEXED, document.error
    ingested = re.compile(r"Task citewise\.knowledge\.tasks\.ingest_document\[[^]]+\] succeeded")
    # Whichever worker took it: one did (it logs "succeeded" just after the row is saved).
    def took_it() -> list:
        return [worker for worker in workers if ingested.search(worker.log())]

    assert len(wait_for(took_it, timeout=30)) == 1

    answer = ask(api_b, QUESTION)
    assert answer["grounded"] and "4471" in answer["answer"], answer
    (cited,) = {citation["source_url"] for citation in answer["citations"]}
    assert cited.startswith(f"{node_b}/sources/")
    browser_b = httpx.Client(base_url=node_b, timeout=REQUEST_TIMEOUT, follow_redirects=False)
    sign_in(browser_b, "editor")
    source = browser_b.get(cited)
    assert source.status_code == 200
    # The passage marked, and in it the quoted sentence.
    assert re.search(r'<mark id="cited"[^>]*>.*<mark id="quote"[^>]*>[^<]*gate code 4471',
                     source.text, re.DOTALL), source.text[-3000:]
    original = browser_b.get(f"/documents/{document.pk}/original")
    assert original.status_code == 200 and original.content == GUIDE
    assert "4471" in ask(api_a, QUESTION)["answer"]  # node A too, from the same stores

    # Only the shared stores hold the original and the vectors: no node's data directory.
    assert object_store.keys() == {document.stored_path}
    for folder in data_dirs.values():
        assert not [path for path in (folder / "originals").rglob("*") if path.is_file()]
        assert not list(folder.rglob("*.faiss"))

    assert api_b.delete(f"/api/v1/documents/{document.pk}").status_code == 204
    after = ask(api_a, QUESTION)
    assert "4471" not in after["answer"] and not after["citations"], after
    assert object_store.keys() == set()
    assert browser_b.get(cited).status_code == 404

