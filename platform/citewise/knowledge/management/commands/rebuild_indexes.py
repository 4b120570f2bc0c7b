"""`manage.py rebuild_indexes [--kb SLUG ...]`: rebuild index files from the database.

The database holds every chunk and its embedding, so this needs no re-embedding: use it
after restoring a backup, moving the data dir, or when an index file is damaged (search
also rebuilds a damaged index by itself on first use).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from citewise.knowledge.cli import knowledge_bases_named
from citewise.knowledge.indexing import rebuild_indexes
from citewise.knowledge.models import KnowledgeBase


class Command(BaseCommand):
    help = "Rebuild the vector and lexical indexes of some or all knowledge bases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kb", action="append", metavar="SLUG",
                            help="only this knowledge base (repeatable); default: all")

    def handle(self, *args: Any, kb: list[str] | None, **options: Any) -> None:
        knowledge_bases = knowledge_bases_named(kb) if kb else KnowledgeBase.objects.all()
        for knowledge_base in knowledge_bases:
            count = rebuild_indexes(knowledge_base)
            self.stdout.write(f"{knowledge_base.slug}: {count} chunks indexed")
