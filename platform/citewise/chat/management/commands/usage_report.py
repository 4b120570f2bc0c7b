"""`manage.py usage_report [--days 30] [--json]`: answers and tokens per knowledge base and
backend over the last days, for capacity planning and charge-back. One row per
(knowledge base, backend); an answer drawn from two knowledge bases counts for both. The
console's token usage report (/console/reports/usage/) charts the same counts by day."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from citewise.chat.reports import usage_per_knowledge_base_and_backend


class Command(BaseCommand):
    help = "Answers and tokens per knowledge base and backend over the last days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: Any, days: int, as_json: bool, **options: Any) -> None:
        if days < 1:
            raise CommandError("--days must be 1 or more")
        rows = usage_per_knowledge_base_and_backend(timezone.now() - timedelta(days=days))
        if as_json:
            self.stdout.write(json.dumps({"days": days, "rows": rows}, ensure_ascii=False))
            return
        header = ("knowledge base", "backend", "answers", "not found", "prompt tokens",
                  "completion tokens")
        self.stdout.write(f"Last {days} days")
        self.stdout.write(" | ".join(header))
        for row in rows:
            self.stdout.write(" | ".join(str(v) for v in row.values()))
        if not rows:
            self.stdout.write("(no answers)")
