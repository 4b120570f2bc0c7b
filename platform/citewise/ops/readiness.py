"""Readiness checks: can this deployment answer questions right now?

Each check returns a short detail and raises when the part is not usable. They are kept
cheap (no check waits longer than a couple of seconds) because probes call them often.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from citewise.celery import app as celery_app
from citewise.ops.outages import StorageUnavailable


class NotReady(Exception):
    """A part is not usable; the message says what to fix."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    milliseconds: float


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def check_broker() -> str:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=2)
        return broker.as_uri()  # kombu masks any password in the URI


def check_worker() -> str:
    # limit=1 returns at the first answer instead of always waiting the full timeout.
    replies = celery_app.control.ping(timeout=settings.READY_WORKER_TIMEOUT, limit=1)
    if not replies:
        raise NotReady(
            f"no Celery worker answered a ping within {settings.READY_WORKER_TIMEOUT:g} s"
        )
    return ", ".join(name for reply in replies for name in reply)


def check_data_dir() -> str:
    data_dir = settings.DATA_DIR
    if not os.access(data_dir, os.W_OK):
        raise NotReady(f"data directory {data_dir} is not writable")
    with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".ready-"):
        pass
    return "writable"


def check_originals() -> str:
    """The storage of the originals answers: the data directory (check_data_dir) or the
    bucket, listed (a missing bucket or refused credentials fail here)."""
    from citewise.knowledge.storage import check_reachable  # lazy: it loads Django's storages

    try:
        return check_reachable()
    except StorageUnavailable as error:
        raise NotReady(f"the object store of the originals cannot be used: {error}") from None


def check_vector_store() -> str:
    """The vector index's server answers (Milvus lists its collections); FAISS files
    need none (check_data_dir covers them)."""
    from citewise.knowledge.indexing import vector_store  # lazy: it loads retrieval

    try:
        return vector_store().ping(timeout=2.0)
    except Exception as error:  # pymilvus raises its own and gRPC errors
        raise NotReady(f"the vector store ({settings.VECTOR_STORE.uri}) did not answer: "
                       f"{error}") from None


def check_llm() -> str:
    """The answer backend's own health check (GET /health, then /v1/models serving
    VLLM_MODEL), with a short timeout: a readiness probe must not hang."""
    if not settings.VLLM_BASE_URL:
        return "not configured (extractive answers)"
    if not settings.VLLM_MODEL:
        raise NotReady("VLLM_BASE_URL is set but VLLM_MODEL (the model vLLM serves) is not")
    from citewise.chat.backends import vllm_config
    from inference.backends.vllm import check_health

    health = check_health(vllm_config(timeout=2.0))
    if not health.ok:
        raise NotReady(health.message)
    return ", ".join(health.models)


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
    "data_dir": check_data_dir,
    "originals": check_originals,
    "vector_store": check_vector_store,
    "llm": check_llm,
}


def run_checks() -> list[CheckResult]:
    results = []
    for name, check in CHECKS.items():
        began = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as error:
            detail, ok = str(error) or type(error).__name__, False
        results.append(CheckResult(name, ok, detail, (time.perf_counter() - began) * 1000))
    return results
