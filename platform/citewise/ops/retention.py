"""How long Citewise keeps what people did and asked (companies' privacy rules).

- Audit events older than CITEWISE_AUDIT_RETENTION_DAYS are deleted (default 365).
- Conversations whose last message is older than CITEWISE_CONVERSATION_RETENTION_DAYS
  are deleted with their messages, citations and feedback, and so are the unanswered
  questions (gap report) asked before that day (default 0).
0 keeps everything. The daily tasks (ops/tasks.py) and `manage.py expire` call this.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from citewise.audit.models import AuditEvent
from citewise.chat.models import Conversation, Message, UnansweredQuestion

# Conversations deleted per transaction: short locks on a large first run.
BATCH = 500


@dataclass(frozen=True)
class Expired:
    """What a retention run deleted (or, dry, would delete). `before`: the cutoff; None
    when the retention is 0 (keep forever), and then every count is 0."""

    before: datetime | None
    audit_events: int = 0
    conversations: int = 0
    messages: int = 0
    unanswered_questions: int = 0


def cutoff(days: int, now: datetime | None = None) -> datetime | None:
    """The moment before which rows go, `days` before `now`; None for 0 days."""
    return (now or timezone.now()) - timedelta(days=days) if days else None


def expire_audit_events(*, now: datetime | None = None, dry_run: bool = False) -> Expired:
    before = cutoff(settings.AUDIT_RETENTION_DAYS, now)
    if before is None:
        return Expired(before)
    if dry_run:
        return Expired(before, audit_events=AuditEvent.objects.filter(
            created_at__lt=before).count())
    return Expired(before, audit_events=AuditEvent.objects.expire(before))


def expire_conversations(*, now: datetime | None = None, dry_run: bool = False) -> Expired:
    before = cutoff(settings.CONVERSATION_RETENTION_DAYS, now)
    if before is None:
        return Expired(before)
    stale = (Conversation.objects
             .annotate(last=Coalesce(Max("messages__created_at"), "created_at"))
             .filter(last__lt=before).values("pk"))
    unanswered = UnansweredQuestion.objects.filter(created_at__lt=before)
    if dry_run:
        return Expired(before, conversations=stale.count(),
                       messages=Message.objects.filter(conversation__in=stale).count(),
                       unanswered_questions=unanswered.count())
    deleted: Counter[str] = Counter()
    ids = [row["pk"] for row in stale]
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            deleted.update(Conversation.objects.filter(pk__in=ids[start:start + BATCH])
                           .delete()[1])
    deleted.update(unanswered.delete()[1])
    return Expired(before, conversations=deleted[Conversation._meta.label],
                   messages=deleted[Message._meta.label],
                   unanswered_questions=deleted[UnansweredQuestion._meta.label])
