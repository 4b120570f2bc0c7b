from __future__ import annotations

from django.db import models


class TaskState(models.TextChoices):
    QUEUED = "queued", "Queued"
    STARTED = "started", "Started"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class TaskRun(models.Model):
    """One Celery task, from publish to its end.

    Filled by Celery signals in the publishing process and in the worker, so the UI,
    the API and /metrics read task state from the database, never from the broker.
    """

    task_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=200, db_index=True)
    queue = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    runtime_seconds = models.FloatField(null=True, blank=True)
    # A task's small JSON return value (a summary, never document text).
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["name", "state"])]

    def __str__(self) -> str:
        return f"{self.name} {self.task_id} ({self.state})"
