"""`manage.py load_demo`: Citewise's own docs/ as the knowledge base `citewise-docs`.

Run by `make run` at every start; does nothing once the knowledge base exists (an admin
who deleted it keeps it deleted only until the next start: delete the documents instead
of the knowledge base to keep it empty). Documents go to the workers; the command does
not wait.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import add_document, create_knowledge_base

DEMO_SLUG = "citewise-docs"


class Command(BaseCommand):
    help = "Create the demo knowledge base from Citewise's own documentation."

    def handle(self, *args: Any, **options: Any) -> None:
        if KnowledgeBase.objects.filter(slug=DEMO_SLUG).exists():
            return
        docs = sorted((settings.BASE_DIR / "docs").glob("*.md"))
        kb = create_knowledge_base(
            SYSTEM, name="Citewise documentation", slug=DEMO_SLUG, readable_by_all=True,
            description="How to use, administer and operate Citewise. Ask it anything.")
        for path in docs:
            with path.open("rb") as stream:
                add_document(SYSTEM, kb, stream, original_name=path.name)
        self.stdout.write(f"Demo knowledge base {DEMO_SLUG!r}: {len(docs)} documents queued.")
