"""Load, when a web process starts, what its first question would otherwise wait for: the
embedding model of each knowledge base (with the answer step's sentence scorer) and, when a
knowledge base reads Korean, the Korean morphological analyser of the lexical index.

Loaded lazily, these made the first search on a Korean knowledge base take ~5 s instead of
~20 ms (the multilingual model, then kiwipiepy's ~100 MB model and its first analysis) and
the first on an English one ~0.7 s (benchmarks/RESULTS.md, "Warm-up"). The web process
runs warm_up_in_background() at its server's start (citewise.asgi, the lifespan startup),
so /readyz and the pages answer at once while the models load beside them. Nothing here
runs at import, and a failure is logged, never raised: the first question then loads what
it needs as before.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Exists, OuterRef

from citewise.knowledge import indexing
from citewise.knowledge.models import Chunk, KnowledgeBase

logger = logging.getLogger(__name__)

KOREAN_LANGUAGES = ("ko", "mixed")
_started = threading.Event()


def warm_up() -> float:
    """Load the models that questions to the knowledge bases holding passages need;
    returns the seconds it took. A knowledge base without passages is skipped: nothing
    can be found in it yet, and on a first start its model may still be exported by the
    worker ingesting its first documents (exporting it here too would do that twice)."""
    from citewise.chat.backends import extractive_backend

    began = time.perf_counter()
    with_passages = Exists(Chunk.objects.filter(knowledge_base=OuterRef("pk")))
    knowledge_bases = list(KnowledgeBase.objects.filter(with_passages))
    by_model = {indexing.embedder_config(kb): kb for kb in knowledge_bases}
    for kb in by_model.values():
        extractive_backend(kb).embed_query("warm-up")
    if any(_reads_korean(kb) for kb in knowledge_bases):
        indexing.lexical_store().tokens("한국어 형태소 분석 준비")
    return time.perf_counter() - began


def _reads_korean(kb: KnowledgeBase) -> bool:
    return (kb.embedding_model == settings.EMBEDDING_MODEL_KOREAN
            or kb.language in KOREAN_LANGUAGES or kb.detected_language in KOREAN_LANGUAGES)


def warm_up_in_background() -> threading.Thread | None:
    """Start warm_up() in a daemon thread, once per process (None when it was already
    started, or CITEWISE_WARM_UP is off)."""
    if not settings.WARM_UP or _started.is_set():
        return None
    _started.set()
    thread = threading.Thread(target=_run, name="citewise-warm-up", daemon=True)
    thread.start()
    return thread


def _run() -> None:
    try:
        close_old_connections()
        logger.info("models for the knowledge bases' questions loaded in %.1f s", warm_up())
    except Exception:
        logger.warning("warm-up failed; the first question loads its models instead",
                       exc_info=True)
    finally:
        connection.close()  # this thread's own connection, not a request's
