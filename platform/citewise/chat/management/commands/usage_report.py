"""`manage.py usage_report [--days 30] [--json]`: answers and tokens per knowledge base and
backend over the last days, for capacity planning and charge-back. One row per
(knowledge base, backend); an answer drawn from two knowledge bases counts for both."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q, Sum
from django.utils import timezone

from citewise.chat.models import Message, Role


def usage_rows(days: int) -> list[dict[str, Any]]:
    since = timezone.now() - timedelta(days=days)
    rows = (Message.objects.filter(role=Role.ASSISTANT, created_at__gte=since)
            .values("conversation__knowledge_bases__slug", "backend")
            .annotate(answers=Count("id"), not_found=Count("id", filter=Q(not_found=True)),
                      prompt_tokens=Sum("prompt_tokens"),
                      completion_tokens=Sum("completion_tokens"))
            .order_by("conversation__knowledge_bases__slug", "backend"))
    return [{"knowledge_base": row["conversation__knowledge_bases__slug"] or "",
             "backend": row["backend"] or "", "answers": row["answers"],
             "not_found": row["not_found"], "prompt_tokens": row["prompt_tokens"] or 0,
             "completion_tokens": row["completion_tokens"] or 0} for row in rows]


class Command(BaseCommand):
    help = "Answers and tokens per knowledge base and backend over the last days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: Any, days: int, as_json: bool, **options: Any) -> None:
        if days < 1:
            raise CommandError("--days must be 1 or more")
        rows = usage_rows(days)
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
