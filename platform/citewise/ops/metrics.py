"""Prometheus metrics.

Request metrics live in this process. Task and document metrics are read from the
database at scrape time, because tasks run in worker processes (often on other machines) that the
web server's memory never sees. Later stages add retrieval and LLM timings here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager

from django.db.models import Count, Sum
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from citewise.ops.models import TaskRun, TaskState

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "citewise_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "citewise_http_request_duration_seconds", "Time to answer an HTTP request.",
    ["method", "route"],
)

SEARCH_LATENCY = Histogram(
    "citewise_search_duration_seconds",
    "Time to search knowledge bases (embedding the query, both indexes, fusion, database).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

ANSWER_LATENCY = Histogram(
    "citewise_answer_duration_seconds",
    "Time to answer a question, from the question to the stored answer (LLM included).",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0),
)

ANSWER_STAGE_LATENCY = Histogram(
    "citewise_answer_stage_seconds",
    "Time spent in one stage of answering a question (searches through the search API "
    "add to the search stages).",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def answer_stage(stage: str) -> AbstractContextManager[object]:
    """Times the block into citewise_answer_stage_seconds{stage} (the stage names are
    listed in docs/operations.md). Retrieval and inference take it as their `timer`."""
    return ANSWER_STAGE_LATENCY.labels(stage=stage).time()


class TaskTableCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        finished = CounterMetricFamily(
            "citewise_tasks_finished", "Tasks that ended, by task name and outcome.",
            labels=["task", "state"],
        )
        runtime = CounterMetricFamily(
            "citewise_task_runtime_seconds", "Total run time of finished tasks.",
            labels=["task"],
        )
        pending = GaugeMetricFamily(
            "citewise_tasks_pending", "Tasks queued or running now.", labels=["task", "state"]
        )
        rows = TaskRun.objects.values("name", "state").annotate(
            n=Count("id"), seconds=Sum("runtime_seconds")
        )
        seconds_by_task: dict[str, float] = {}
        for row in rows:
            if row["state"] in (TaskState.SUCCEEDED, TaskState.FAILED):
                finished.add_metric([row["name"], row["state"]], row["n"])
                seconds_by_task[row["name"]] = (
                    seconds_by_task.get(row["name"], 0.0) + (row["seconds"] or 0.0)
                )
            else:
                pending.add_metric([row["name"], row["state"]], row["n"])
        for name, seconds in seconds_by_task.items():
            runtime.add_metric([name], seconds)
        yield from (finished, runtime, pending)


# Metrics read from the database at scrape time; apps add their own collectors (the
# knowledge app: documents by status and failure code).
database_registry = CollectorRegistry(auto_describe=False)
database_registry.register(TaskTableCollector())
