"""`manage.py rebuild_indexes [--kb SLUG ...] [--backend faiss|milvus|milvus:URI]`:
rebuild index files from the database.

The database holds every chunk and its embedding, so this needs no re-embedding: use it
after restoring a backup, moving the data dir, or when an index file is damaged (search
also rebuilds a damaged index by itself on first use).

Moving a deployment to another vector store (FAISS to Milvus or back):
1. `manage.py rebuild_indexes --backend milvus:http://milvus:19530` while the old store
   still serves;
2. set CITEWISE_VECTOR_STORE to the same value and restart web and workers.
Documents ingested between 1 and 2 are missing from the new store: run 1 again after 2
(or pause uploads meanwhile).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from citewise.knowledge.cli import knowledge_bases_named
from citewise.knowledge.indexing import rebuild_indexes, vector_store_for
from citewise.knowledge.models import KnowledgeBase
from retrieval.stores import MILVUS, parse_vector_store


class Command(BaseCommand):
    help = "Rebuild the vector and lexical indexes of some or all knowledge bases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kb", action="append", metavar="SLUG",
                            help="only this knowledge base (repeatable); default: all")
        parser.add_argument("--backend", metavar="STORE",
                            help="the vector store to build: faiss, milvus:URI, or milvus "
                                 "(the URI of CITEWISE_VECTOR_STORE); default: the "
                                 "configured one (CITEWISE_VECTOR_STORE)")

    def handle(self, *args: Any, kb: list[str] | None, backend: str | None,
               **options: Any) -> None:
        choice = settings.VECTOR_STORE
        if backend == MILVUS:
            if choice.backend != MILVUS:
                raise CommandError("--backend milvus takes its URI from CITEWISE_VECTOR_STORE,"
                                   " which is not milvus: give --backend milvus:URI")
        elif backend:
            try:
                choice = parse_vector_store(backend)
            except ValueError as error:
                raise CommandError(f"--backend: {error}") from None
        target = vector_store_for(choice)
        knowledge_bases = knowledge_bases_named(kb) if kb else KnowledgeBase.objects.all()
        for knowledge_base in knowledge_bases:
            count = rebuild_indexes(knowledge_base, vectors=target)
            self.stdout.write(f"{knowledge_base.slug}: {count} chunks indexed")
