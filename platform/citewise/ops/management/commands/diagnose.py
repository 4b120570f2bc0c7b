"""`manage.py diagnose`: run the diagnose task on a worker and print what it reports."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from citewise.ops.models import TaskRun, TaskState
from citewise.ops.tasks import diagnose


class Command(BaseCommand):
    help = "Ask a worker to report its host, Python, database and data directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args: Any, timeout: float, **options: Any) -> None:
        task_id = diagnose.delay().id
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = TaskRun.objects.filter(task_id=task_id).first()
            if run and run.state == TaskState.SUCCEEDED:
                self.stdout.write(json.dumps(run.result, indent=2))
                return
            if run and run.state == TaskState.FAILED:
                raise CommandError(f"the worker failed: {run.error}")
            time.sleep(0.2)
        raise CommandError(f"no worker ran the task within {timeout:g} s: is a worker running?")
