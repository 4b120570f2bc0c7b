"""`manage.py ask "QUESTION" --kb SLUG`: ask as the system, print the answer.

With --questions FILE, each line is a new conversation, answered in one process (models
load once), one JSON line per question in order. Exits 1 if the answer service failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from citewise.chat.events import AskFailed, AskNotFound, AskNotice, AskResult, AskText
from citewise.chat.services import ask
from citewise.knowledge.cli import knowledge_bases_named, lines_of
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.places import citation_place

JSON_KEYS = ("question", "answer", "not_found", "grounded", "citations", "usage")
CITATION_KEYS = ("n", "chunk_id", "document", "title", "page", "line", "heading_path",
                 "snippet", "supported")


def result_json(result: AskResult) -> str:
    data = result.as_json()
    out = {key: data[key] for key in JSON_KEYS}
    out["citations"] = [{key: c[key] for key in CITATION_KEYS} for c in data["citations"]]
    return json.dumps(out, ensure_ascii=False)


class Command(BaseCommand):
    help = "Ask a question of knowledge bases and print the cited answer."
    # Django's system checks load every URL and view (a second and more of a cold start);
    # they guard deployment, which `manage.py check`, migrate and serve run. A question
    # asked from the terminal needs none of it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question", nargs="?")
        parser.add_argument("--kb", action="append", required=True, metavar="SLUG")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--questions", type=Path, metavar="FILE",
                            help="one question per line; prints one JSON line per question")

    def handle(self, *args: Any, question: str | None, kb: list[str], json: bool,
               questions: Path | None, **options: Any) -> None:
        if (question is None) == (questions is None):
            raise CommandError("give either a QUESTION or --questions FILE")
        kbs = knowledge_bases_named(kb)
        if questions is not None:
            failed = False
            for line in lines_of(questions):
                result, error = self._answer(line, kbs, echo=False)
                if result is not None:
                    self.stdout.write(result_json(result))
                else:
                    failed = True
                    self.stdout.write(json.dumps({"question": line, "error": error},
                                                 ensure_ascii=False))
            if failed:
                sys.exit(1)
            return
        result, error = self._answer(question, kbs, echo=not json)
        if result is None:
            self.stderr.write(f"The answer failed: {error}")
            sys.exit(1)
        if json:
            self.stdout.write(result_json(result))
            return
        self.stdout.write("")
        for citation in result.citations:
            where = citation_place(citation.as_json())
            where = f", {where}" if where else ""
            mark = "" if citation.supported else "  (not supported by the passage)"
            self.stdout.write(f"[{citation.n}] {citation.title}{where} "
                              f"({citation.document}){mark}")

    def _answer(self, question: str, kbs: list[KnowledgeBase], *,
                echo: bool) -> tuple[AskResult | None, str]:
        try:
            events = ask(SYSTEM, question, knowledge_bases=kbs)
            for event in events:
                if isinstance(event, AskText | AskNotFound) and echo:
                    # A refusal after generation replaces the text that streamed: on a
                    # terminal it follows it, after a blank line.
                    self.stdout.write(event.text if isinstance(event, AskText)
                                      else f"\n\n{event.text}", ending="")
                    self.stdout.flush()
                elif isinstance(event, AskNotice) and echo:
                    self.stderr.write(event.text)
                elif isinstance(event, AskFailed):
                    return None, event.message
                elif isinstance(event, AskResult):
                    return event, ""
        except ValueError as error:
            raise CommandError(str(error)) from None
        return None, "the answer ended without a result"
