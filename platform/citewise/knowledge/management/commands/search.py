"""`manage.py search "QUERY" --kb SLUG`: what a knowledge base finds for a question.

With --queries FILE, answers one query per line in one process (models load once) and
prints one JSON line per query, in order: admins check a knowledge base against their
own question lists this way. Acts as the system.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from citewise.knowledge.cli import knowledge_bases_named, lines_of
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.places import citation_place, headings_below_title
from citewise.knowledge.search import Passage, search


def result_json(query: str, passages: list[Passage]) -> str:
    return json.dumps({"query": query, "results": [
        {key: value for key, value in passage.as_json().items()
         if key in ("chunk_id", "document", "title", "page", "line", "heading_path", "text",
                    "score")}
        for passage in passages
    ]}, ensure_ascii=False)


class Command(BaseCommand):
    help = "Search knowledge bases and print the passages found."
    # Django's system checks load every URL and view (a second and more of a cold start);
    # they guard deployment, which `manage.py check`, migrate and serve run. A question
    # asked from the terminal needs none of it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("query", nargs="?", help="the question (or use --queries)")
        parser.add_argument("--kb", action="append", required=True, metavar="SLUG")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--queries", type=Path, metavar="FILE",
                            help="one query per line; prints one JSON line per query")

    def handle(self, *args: Any, query: str | None, kb: list[str], k: int, json: bool,
               queries: Path | None, **options: Any) -> None:
        if (query is None) == (queries is None):
            raise CommandError("give either a QUERY or --queries FILE")
        knowledge_bases = knowledge_bases_named(kb)
        if k < 1:
            raise CommandError("--k must be at least 1")
        if queries is not None:
            for line in lines_of(queries):
                passages = search(SYSTEM, line, knowledge_bases=knowledge_bases, k=k)
                self.stdout.write(result_json(line, passages))
            return
        passages = search(SYSTEM, query, knowledge_bases=knowledge_bases, k=k)
        if json:
            self.stdout.write(result_json(query, passages))
            return
        if not passages:
            self.stdout.write("No passage found.")
        for n, passage in enumerate(passages, start=1):
            where = " > ".join(headings_below_title(passage.heading_path, passage.title))
            place = citation_place(passage.as_json())
            place = f", {place}" if place else ""
            self.stdout.write(self.style.SUCCESS(
                f"{n}. {passage.title}{place}  [{passage.score:.4f}]"))
            if where:
                self.stdout.write(f"   {where}")
            self.stdout.write(f"   {passage.text[:300]}")
