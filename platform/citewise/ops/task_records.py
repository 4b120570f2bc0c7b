"""Celery signal handlers that keep TaskRun rows in step with each task's life.

A failure to record must never fail the task itself, so each handler logs and carries on.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from celery import signals
from django.db import DatabaseError
from django.utils import timezone

from citewise.ops.models import TaskRun, TaskState

logger = logging.getLogger(__name__)

MAX_RESULT_BYTES = 16_384

# Monotonic start times per task id in this worker process, for exact runtimes.
_started: dict[str, float] = {}


def _record(task_id: str | None, **fields: Any) -> None:
    if not task_id:
        return
    try:
        TaskRun.objects.update_or_create(task_id=task_id, defaults=fields)
    except DatabaseError:
        logger.exception("could not record task %s in the task table", task_id)


@signals.before_task_publish.connect
def on_publish(sender: str | None = None, headers: dict | None = None, routing_key: str = "",
               **_: Any) -> None:
    headers = headers or {}
    _record(headers.get("id"), name=sender or headers.get("task", ""), queue=routing_key,
            state=TaskState.QUEUED, enqueued_at=timezone.now())


@signals.task_prerun.connect
def on_start(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    _started[task_id or ""] = time.monotonic()
    request = getattr(task, "request", None)
    delivery = getattr(request, "delivery_info", None) or {}
    _record(task_id, name=getattr(task, "name", ""), state=TaskState.STARTED,
            started_at=timezone.now(), finished_at=None, error="",
            attempts=(getattr(request, "retries", 0) or 0) + 1,
            worker=getattr(request, "hostname", "") or "",
            queue=delivery.get("routing_key") or "")


def _runtime(task_id: str | None) -> float | None:
    began = _started.pop(task_id or "", None)
    return None if began is None else time.monotonic() - began


@signals.task_postrun.connect
def on_finish(task_id: str | None = None, state: str | None = None, retval: Any = None,
              **_: Any) -> None:
    if state == "SUCCESS":
        _record(task_id, state=TaskState.SUCCEEDED, finished_at=timezone.now(),
                runtime_seconds=_runtime(task_id), result=_small_json(retval))


def _small_json(value: Any) -> Any:
    """The return value if it is JSON of a few kilobytes; tasks return summaries only."""
    try:
        encoded = json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value if len(encoded) <= MAX_RESULT_BYTES else None


@signals.task_failure.connect
def on_failure(task_id: str | None = None, exception: BaseException | None = None,
               **_: Any) -> None:
    _record(task_id, state=TaskState.FAILED, finished_at=timezone.now(),
            runtime_seconds=_runtime(task_id),
            error=f"{type(exception).__name__}: {exception}"[:2000])


@signals.task_retry.connect
def on_retry(request: Any = None, reason: Any = None, **_: Any) -> None:
    task_id = getattr(request, "id", None)
    _runtime(task_id)
    _record(task_id, state=TaskState.RETRYING, error=str(reason)[:2000])
