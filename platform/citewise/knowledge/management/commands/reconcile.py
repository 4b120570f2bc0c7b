"""`manage.py reconcile`: queue again, now, the work the database owes and no task will
do (documents whose worker died or whose message the broker lost, re-embeddings whose
worker died) and finish index removals a dead process left. The worker running `--beat`
does the same every CITEWISE_RECONCILE_SECONDS (60), and every worker when it starts.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from citewise.knowledge.reconcile import reconcile


class Command(BaseCommand):
    help = "Queue again the ingestion and re-embedding work no task will do."

    def handle(self, *args: Any, **options: Any) -> None:
        done = reconcile()
        if done.broker_emptied:
            self.stdout.write("The broker had lost its queued tasks (restarted empty or "
                              "flushed): every queued document is queued again.")
        self.stdout.write(f"Documents queued again: {len(done.documents)}")
        self.stdout.write(f"Re-embeddings queued again: {len(done.reembeddings)}")
        self.stdout.write(f"Index removals finished: {done.index_removals}")
