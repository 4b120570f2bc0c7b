"""`manage.py expire [--dry-run]`: apply the retention settings now (the daily tasks do
it on their own) and report what was deleted, or with --dry-run what would be.

    CITEWISE_AUDIT_RETENTION_DAYS          audit events (default 365; 0 keeps them all)
    CITEWISE_CONVERSATION_RETENTION_DAYS   conversations and unanswered questions
                                           (default 0: kept)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from citewise.ops.retention import Expired, expire_audit_events, expire_conversations


class Command(BaseCommand):
    help = "Delete audit events and conversations older than their retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Report what would be deleted; delete nothing.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        verb = "would be deleted" if dry_run else "deleted"
        audit = expire_audit_events(dry_run=dry_run)
        self.stdout.write(self._line(
            "Audit events", "CITEWISE_AUDIT_RETENTION_DAYS", settings.AUDIT_RETENTION_DAYS,
            audit, f"{audit.audit_events} {verb}"))
        chats = expire_conversations(dry_run=dry_run)
        self.stdout.write(self._line(
            "Conversations", "CITEWISE_CONVERSATION_RETENTION_DAYS",
            settings.CONVERSATION_RETENTION_DAYS, chats,
            f"{chats.conversations} ({chats.messages} messages) and "
            f"{chats.unanswered_questions} unanswered questions {verb}"))

    @staticmethod
    def _line(what: str, variable: str, days: int, expired: Expired, counts: str) -> str:
        if expired.before is None:
            return f"{what}: kept forever ({variable}=0)."
        return (f"{what} older than {days} days (before "
                f"{expired.before.isoformat(timespec='seconds')}): {counts}.")
