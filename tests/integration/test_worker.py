"""Tasks run end to end on a real worker process, and the task table tells their story."""

from __future__ import annotations

import platform
import time

import pytest
from celery import shared_task
from django.db import connection, transaction

from citewise.ops.models import TaskRun, TaskState
from citewise.ops.tasks import diagnose

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_state(task_id: str, state: str, timeout: float = 30.0) -> TaskRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = TaskRun.objects.filter(task_id=task_id).first()
        if run and run.state == state:
            return run
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never reached {state}: {run and run.state}")


def test_a_task_runs_on_the_worker_and_is_recorded(celery_worker, settings):
    task_id = diagnose.delay().id
    queued = TaskRun.objects.get(task_id=task_id)
    assert queued.name == "citewise.ops.tasks.diagnose"
    assert queued.enqueued_at is not None

    run = wait_for_state(task_id, TaskState.SUCCEEDED)
    assert run.worker == celery_worker.hostname
    assert run.attempts == 1
    assert run.runtime_seconds is not None and run.runtime_seconds >= 0
    assert run.started_at <= run.finished_at
    # The worker shares the test's database and data dir, and `platform` is the
    # standard library's there too.
    assert run.result["system"] == platform.system()
    assert run.result["database"] == connection.vendor
    assert run.result["data_dir"] == str(settings.DATA_DIR)


def test_enqueue_on_commit_never_runs_a_task_for_a_rolled_back_transaction(celery_worker):
    with pytest.raises(RuntimeError), transaction.atomic():
        diagnose.delay_on_commit()
        raise RuntimeError("the request failed after enqueueing")
    with transaction.atomic():
        diagnose.delay_on_commit()
        assert not TaskRun.objects.exists()  # not published before the commit
    run = TaskRun.objects.get()  # exactly one: the committed one
    wait_for_state(run.task_id, TaskState.SUCCEEDED)


def test_diagnose_command_prints_the_worker_report(celery_worker, capsys):
    from django.core.management import call_command

    call_command("diagnose", timeout=30)
    assert f'"system": "{platform.system()}"' in capsys.readouterr().out


def test_finished_tasks_appear_in_metrics(celery_worker, client):
    wait_for_state(diagnose.delay().id, TaskState.SUCCEEDED)
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert (
        'citewise_tasks_finished_total{state="succeeded",task="citewise.ops.tasks.diagnose"} 1.0'
    ) in text
    assert 'citewise_task_runtime_seconds_total{task="citewise.ops.tasks.diagnose"}' in text


@shared_task(name="tests.failing_task")
def failing_task() -> None:
    raise ValueError("the parser could not read page 3")


def test_a_failing_task_is_recorded_with_its_reason():
    # Run in-process (apply), which fires the same Celery signals as a worker; a test
    # task cannot be registered in the separate worker process.
    result = failing_task.apply()
    run = TaskRun.objects.get(task_id=result.id)
    assert run.state == TaskState.FAILED
    assert run.error == "ValueError: the parser could not read page 3"
    assert run.finished_at is not None
