"""A knowledge base's index files deleted, truncated or left by another embedding model:
the next question rebuilds them from the database (the stored embeddings and texts),
gets the same passages and citations as before, and leaves an operator a log line that
names the index and the reason."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from citewise.chat.events import AskResult
from citewise.chat.services import ask
from citewise.knowledge import indexing, search
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from retrieval.errors import SourceChanged
from retrieval.vector_store import VectorStore
from tests.factories import load_document, make_kb

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faiss_files]

HANDBOOK = """# IT handbook

## VPN

Employees connect to the office network with the WireGuard VPN client.

## Passwords

Passwords expire every 90 days. You can reset your password in the self-service portal.

## Printers

The printers on the third floor accept jobs from the Follow-Me queue only.
"""
QUESTION = "How often do passwords expire?"


def answered(question: str = QUESTION) -> tuple[str, list[tuple[int, int, bool]]]:
    """The stored answer's text and its citations as (number, chunk id, supported)."""
    (result,) = [e for e in ask(SYSTEM, question) if isinstance(e, AskResult)]
    return result.answer, [(c.n, c.chunk_id, c.supported) for c in result.citations]


def current_file(kb_key: str, kind: str) -> tuple[Path, Path]:
    """(manifest, data file) of the knowledge base's `kind` index ("vectors", "lexical")."""
    manifest = Path(settings.INDEX_DIR) / kb_key / f"{kind}.json"
    return manifest, manifest.parent / json.loads(manifest.read_text())["file"]


def forget_loaded_indexes() -> None:
    for cached in (indexing.vector_store, indexing.lexical_store, search.searcher):
        cached.cache_clear()


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "retrieval.versioned" and r.levelno >= logging.WARNING]


def delete(manifest: Path, data: Path) -> None:
    data.unlink()


def truncate(manifest: Path, data: Path) -> None:
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def delete_everything(manifest: Path, data: Path) -> None:
    for path in manifest.parent.iterdir():
        if path.is_file() and path.name.startswith(manifest.stem):
            path.unlink()


def other_model(manifest: Path, data: Path) -> None:
    """A whole index written by a 768-dimension model over the same chunk ids."""
    ids = np.asarray(indexing.embedding_source(KnowledgeBase.objects.get())()[0])
    vectors = np.random.default_rng(0).standard_normal((len(ids), 768)).astype(np.float32)
    VectorStore(settings.INDEX_DIR).rebuild(manifest.parent.name, ids, vectors,
                                            "intfloat/multilingual-e5-base")


def other_tokenizer(manifest: Path, data: Path) -> None:
    written = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**written, "tokenizer": "some-other-tokenizer"}))


@pytest.mark.parametrize(("kind", "damage", "reason"), [
    ("vectors", delete, "is missing"),
    ("vectors", truncate, "unreadable FAISS file"),
    ("vectors", delete_everything, "no vectors manifest"),
    ("vectors", other_model, "built with model 'intfloat/multilingual-e5-base'"),
    ("lexical", delete, "is missing"),
    ("lexical", truncate, "unreadable lexical file"),
    ("lexical", other_tokenizer, "built with tokenizer 'some-other-tokenizer'"),
])
def test_a_damaged_index_is_rebuilt_and_answers_stay_the_same(
        kind: str, damage: Callable[[Path, Path], None], reason: str, caplog):
    kb = make_kb("it-handbook")
    load_document(kb, "handbook.md", HANDBOOK)
    before = answered()
    assert "90 days" in before[0] and before[1], "the question is answered with a citation"

    damage(*current_file(kb.index_key, kind))
    forget_loaded_indexes()  # a process that starts now is the one that meets the damage
    with caplog.at_level(logging.WARNING, logger="retrieval.versioned"):
        assert answered() == before

    (line,) = warnings(caplog)
    assert f"of knowledge base '{kb.index_key}' was unusable" in line
    assert reason in line and "rebuilt from the database (" in line
    # Rebuilt for good: the next process reads the new files without a word.
    caplog.clear()
    forget_loaded_indexes()
    assert answered() == before
    assert not warnings(caplog)


def test_a_view_read_before_a_model_swap_never_rebuilds_the_new_index():
    """A search that read the knowledge base just before a re-embedding swapped its model
    sees the new index as "of another model". Rebuilding it from the database under the
    old model's name stored the new vectors as the old model's, and that search failed on
    the vectors' dimension (seen in CI while a worker re-embedded). The stale view now
    rebuilds nothing, and the search runs again on the rows as they are."""
    kb = make_kb("handbook")
    load_document(kb, "handbook.md", HANDBOOK)
    stale = KnowledgeBase.objects.get(pk=kb.pk)
    KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model="another-model")
    with pytest.raises(SourceChanged):
        indexing.embedding_source(stale)()
    manifest, _ = current_file(kb.index_key, "vectors")
    before = manifest.read_text()
    KnowledgeBase.objects.filter(pk=kb.pk).update(embedding_model=stale.embedding_model)
    assert search.search(SYSTEM, QUESTION, knowledge_bases=[stale], k=1)
    assert manifest.read_text() == before  # the index was usable: nothing rebuilt
