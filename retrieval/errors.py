"""Why an index could not be used. Callers catch IndexUnavailable and rebuild from the
database (the source of truth); the subclasses say what went wrong for logs and admins."""

from __future__ import annotations


class IndexUnavailable(Exception):
    """The on-disk index for a knowledge base cannot serve queries as it is."""

    def __init__(self, kb_key: str, reason: str) -> None:
        super().__init__(f"index for knowledge base {kb_key!r}: {reason}")
        self.kb_key = kb_key
        self.reason = reason


class IndexMissing(IndexUnavailable):
    """No index was ever saved, or its files were deleted."""


class IndexCorrupt(IndexUnavailable):
    """The manifest or data file cannot be parsed, or they disagree."""


class IndexMismatch(IndexUnavailable):
    """The index was built with another model, dimension or tokenizer than requested."""


class SourceChanged(Exception):
    """The source of truth no longer matches what the caller asked for (a re-embedding
    swapped the knowledge base's model after the caller read it): nothing was rebuilt;
    ask again with a fresh view of the knowledge base."""


class LockTimeout(Exception):
    """Another process held the knowledge base's write lock for too long."""
