"""Operational tasks."""

from __future__ import annotations

import platform
import socket
import sys

from celery import shared_task
from django.conf import settings
from django.db import connection


@shared_task(name="citewise.ops.tasks.diagnose")
def diagnose() -> dict[str, str]:
    """Report what the worker runs on and what it can reach.

    Operators call it (`manage.py diagnose`) to see that a worker has the same database
    and data directory as the web server; the result comes back through the task table.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {
        "hostname": socket.gethostname(),
        "system": platform.system(),
        "python": sys.version.split()[0],
        "database": connection.vendor,
        "data_dir": str(settings.DATA_DIR),
    }


@shared_task(name="citewise.ops.tasks.expire_audit_events")
def expire_audit_events() -> dict:
    """Delete the audit events older than CITEWISE_AUDIT_RETENTION_DAYS (daily, by beat)."""
    from citewise.ops.retention import expire_audit_events as expire

    return {"audit_events": expire().audit_events}


@shared_task(name="citewise.ops.tasks.expire_conversations")
def expire_conversations() -> dict:
    """Delete conversations (with messages, citations, feedback) and unanswered questions
    older than CITEWISE_CONVERSATION_RETENTION_DAYS (daily, by beat)."""
    from citewise.ops.retention import expire_conversations as expire

    expired = expire()
    return {"conversations": expired.conversations, "messages": expired.messages,
            "unanswered_questions": expired.unanswered_questions}
