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
