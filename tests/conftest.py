from __future__ import annotations

import pytest

from tests.workers import WorkerProcess, start_worker


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
