from __future__ import annotations

import pytest

from retrieval.stores import MILVUS
from tests.workers import WorkerProcess, start_worker


def pytest_collection_modifyitems(config, items):
    """On Milvus (CITEWISE_VECTOR_STORE=milvus:...), skip the tests of FAISS files."""
    from django.conf import settings

    if settings.VECTOR_STORE.backend != MILVUS:
        return
    skip = pytest.mark.skip(reason="tests FAISS index files; the suite runs on Milvus")
    for item in items:
        if item.get_closest_marker("faiss_files"):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker) -> WorkerProcess:
    """A real `celery worker` process on the test database and the configured broker.

    Module-scoped: it takes seconds to start, and modules that test "no worker" must be
    able to run without one. Torn down before the test database is dropped.
    """
    with django_db_blocker.unblock():
        worker = start_worker("module")
    yield worker
    worker.stop()


@pytest.fixture
def own_worker(django_db_setup, django_db_blocker):
    """Start extra workers a test may kill; all are stopped when the test ends."""
    started: list[WorkerProcess] = []

    def start(label: str = "own", *, beat: bool = False, **env: str) -> WorkerProcess:
        with django_db_blocker.unblock():
            worker = start_worker(label, beat=beat, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory) -> str:
    """A Milvus server's URI: the suite's own when it runs on Milvus, otherwise a
    Milvus Lite server started for this session (standing in for Milvus standalone)."""
    pytest.importorskip("pymilvus", reason="the `milvus` extra is not installed")
    from django.conf import settings

    if settings.VECTOR_STORE.backend == MILVUS:
        yield settings.VECTOR_STORE.uri
        return
    from tests.milvus_server import milvus_lite_server

    with milvus_lite_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri


@pytest.fixture(autouse=True)
def _fresh_milvus_collections():
    """On Milvus, each test starts without the collections of the tests before it (a
    new test database reuses knowledge base ids, hence collection names)."""
    yield
    from django.conf import settings

    if settings.VECTOR_STORE.backend == MILVUS:
        from retrieval.milvus_store import PREFIX
        from tests.milvus_server import drop_collections

        drop_collections(settings.VECTOR_STORE.uri, PREFIX)
