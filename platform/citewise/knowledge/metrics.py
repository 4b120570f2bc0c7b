"""Documents in /metrics, read from the database at each scrape (the workers that change
them run elsewhere): how many are in each status, and why the failed ones failed."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from citewise.knowledge.models import Document, DocumentStatus


class DocumentTableCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily("citewise_documents", "Documents, by status.",
                                      labels=["status"])
        failed = GaugeMetricFamily("citewise_documents_failed",
                                   "Failed documents, by failure code.", labels=["code"])
        counts = {row["status"]: row["n"] for row in
                  Document.objects.values("status").annotate(n=Count("id"))}
        for status in DocumentStatus.values:
            by_status.add_metric([status], counts.get(status, 0))
        for row in (Document.objects.filter(status=DocumentStatus.FAILED)
                    .values("error_code").annotate(n=Count("id"))):
            failed.add_metric([row["error_code"] or "unknown"], row["n"])
        yield from (by_status, failed)
