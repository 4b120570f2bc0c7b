"""The Celery app. Tasks live in each app's tasks.py and are found by autodiscovery.

Reliability settings, and why:
- acks_late + reject_on_worker_lost: a task is acknowledged only after it finishes, so a
  worker killed mid-task leaves it to run again. Tasks must therefore be idempotent
  (they take ids and check the database state before working).
- prefetch 1: a worker holds only the task it runs; long ingestion jobs never sit
  behind one another in one worker's buffer while another worker idles.
- time limits (CITEWISE_TASK_TIME_LIMIT, read by settings as CELERY_TASK_*): a stuck
  parser cannot hold a worker forever.
- queues: ingestion (heavy embedding work) has its own queue, so quick tasks in
  `default` never wait behind an upload of thousands of pages.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

from citewise.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")

DEFAULT_QUEUE = "default"
INGEST_QUEUE = "ingest"

app = Celery("citewise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=DEFAULT_QUEUE,
    task_queues=(Queue(DEFAULT_QUEUE), Queue(INGEST_QUEUE)),
    task_routes={"citewise.knowledge.tasks.ingest_*": {"queue": INGEST_QUEUE},
                 "citewise.knowledge.tasks.reembed_*": {"queue": INGEST_QUEUE}},
    task_serializer="json",
    accept_content=["json"],
    # Results are not used: the database's task table is what the UI and API read.
    task_ignore_result=True,
    result_backend=None,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_max_tasks_per_child=200,
    beat_schedule={
        # Queues again what a dead worker, an emptied broker or a dead web process left
        # (knowledge/reconcile.py).
        "reconcile": {
            "task": "citewise.knowledge.tasks.reconcile",
            "schedule": float(env_int("CITEWISE_RECONCILE_SECONDS", 60, minimum=1)),
        },
        # Retention (privacy rules): once a day, at a quiet hour (UTC).
        "expire-audit-events": {
            "task": "citewise.ops.tasks.expire_audit_events",
            "schedule": crontab(hour=3, minute=10),
        },
        "expire-conversations": {
            "task": "citewise.ops.tasks.expire_conversations",
            "schedule": crontab(hour=3, minute=20),
        },
    },
)


app.autodiscover_tasks()
