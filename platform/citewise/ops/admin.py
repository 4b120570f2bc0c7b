from django.contrib import admin
from django.http import HttpRequest

from citewise.ops.models import TaskRun


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    """Read-only: rows are written by Celery signals, never by hand."""

    list_display = ("name", "state", "worker", "attempts", "enqueued_at", "runtime_seconds")
    list_filter = ("state", "name")
    search_fields = ("task_id", "name", "error")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TaskRun | None = None) -> bool:
        return False
