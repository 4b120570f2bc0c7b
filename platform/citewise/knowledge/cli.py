"""Argument handling shared by the management commands that name knowledge bases and
read question lists (search, ask, rebuild_indexes)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from citewise.knowledge.models import KnowledgeBase


def knowledge_bases_named(slugs: list[str]) -> list[KnowledgeBase]:
    found = list(KnowledgeBase.objects.filter(slug__in=slugs))
    missing = set(slugs) - {kb.slug for kb in found}
    if missing:
        raise CommandError(f"no knowledge base: {', '.join(sorted(missing))}")
    return found


def lines_of(path: Path) -> list[str]:
    """The non-empty lines of a UTF-8 file, stripped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {path}: {error}") from None
    return [line.strip() for line in lines if line.strip()]
