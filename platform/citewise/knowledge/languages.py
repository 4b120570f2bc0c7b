"""A knowledge base on "auto" takes its language, hence its embedding model and passage
size, from its documents.

1. Each document's language profile (letters per language, textproc.language) is stored
   when it is parsed.
2. The first document with text decides, before it is chunked: English gets
   CITEWISE_EMBEDDING_MODEL; Korean, mixed or another language gets
   CITEWISE_EMBEDDING_MODEL_KO, a multilingual model that also reads English, so a
   mixed knowledge base answers questions in either language.
3. Every later document reviews the decision over all documents. When it moves the
   base from the English model to the multilingual one, a background re-embedding
   starts; the old index serves until the swap. Never back: the multilingual model
   reads English too, and flip-flopping would re-embed every few documents.
A knowledge base whose language an admin named, or whose model an admin chose, keeps
its model; its decision is still recorded.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from citewise.knowledge import indexing
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase, LanguageHint
from ingestion.blocks import ParsedDocument
from textproc.language import Decision, LanguageProfile, decide, profile_of

logger = logging.getLogger(__name__)

BUSY = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)


class KnowledgeBaseBusy(Exception):
    """Documents are still being ingested with the old model; the swap waits for them."""

    code = "knowledge_base_busy"


def model_for(language: str) -> str:
    """The embedding model for a decided language ("en", "ko", "mixed", other codes)."""
    return settings.EMBEDDING_MODEL if language == "en" else settings.EMBEDDING_MODEL_KOREAN


def settle(document: Document, parsed: ParsedDocument) -> KnowledgeBase:
    """Record the document's language profile and let it decide (or review) its
    knowledge base's language. Returns the knowledge base as it now stands: its
    embedding model is the one to chunk and embed this document with."""
    profile = profile_of(block.text for block in parsed.blocks if block.kind != "code")
    _backfill_profiles(document.knowledge_base_id)
    with transaction.atomic():
        # The row lock orders deciding documents and the re-embedding's swap.
        kb = KnowledgeBase.objects.select_for_update().get(pk=document.knowledge_base_id)
        Document.objects.filter(pk=document.pk).update(language_profile=profile.to_json())
        decision = _review(kb) if kb.language == LanguageHint.AUTO else None
    if decision is not None:
        explain(kb, decision)
    document.knowledge_base = kb
    return kb


def _backfill_profiles(kb_id: int) -> None:
    """Profile, from their passages, the indexed documents that have no profile: those
    indexed before languages were identified, or resumed past parsing. Once each."""
    missing = Document.objects.filter(knowledge_base_id=kb_id, language_profile={},
                                      status=DocumentStatus.INDEXED)
    for document in missing.only("pk"):
        texts = document.chunks.order_by("ordinal").values_list("text", flat=True)
        Document.objects.filter(pk=document.pk).update(
            language_profile=profile_of(texts).to_json())


def knowledge_base_profile(kb: KnowledgeBase) -> LanguageProfile:
    """The summed profiles of the knowledge base's documents that did not fail."""
    stored = (kb.documents.exclude(status=DocumentStatus.FAILED)
              .values_list("language_profile", flat=True))
    return sum((LanguageProfile.from_json(p) for p in stored), LanguageProfile())


def _review(kb: KnowledgeBase) -> Decision | None:
    """Apply the documents' decision to `kb` (row-locked by the caller)."""
    decision = decide(knowledge_base_profile(kb))
    if decision is None:
        return None
    kb.detected_language = decision.language
    kb.save(update_fields=["detected_language", *_adopt(kb, model_for(decision.language))])
    return decision


def _adopt(kb: KnowledgeBase, wanted: str) -> list[str]:
    """Move `kb` towards the `wanted` model; returns the fields it changed."""
    if not _model_is_ours(kb) or wanted == kb.embedding_model:
        return []
    if not kb.chunks.exists():  # nothing embedded yet: simply take the model
        kb.embedding_model = wanted
        return ["embedding_model"]
    if wanted == settings.EMBEDDING_MODEL_KOREAN and not kb.pending_embedding_model:
        kb.pending_embedding_model = wanted
        _start_reembedding(kb)
        return ["pending_embedding_model"]
    return []


def model_awaits_documents(kb: KnowledgeBase) -> bool:
    """True while a knowledge base on "auto" has no language yet: its model is only the
    English default until its first document with text decides (step 2 above)."""
    return (kb.language == LanguageHint.AUTO and not kb.detected_language
            and _model_is_ours(kb))


def _model_is_ours(kb: KnowledgeBase) -> bool:
    """False when an admin named a model of their own at creation."""
    return kb.embedding_model in {settings.EMBEDDING_MODEL, settings.EMBEDDING_MODEL_KOREAN}


def _start_reembedding(kb: KnowledgeBase) -> None:
    logger.info("knowledge base %s: re-embedding into %s", kb.pk, kb.pending_embedding_model)
    queue_reembedding(kb)


def queue_reembedding(kb: KnowledgeBase) -> None:
    """Queue the knowledge base's pending re-embedding when its transaction commits. A
    re-embedding no task holds gets a lease of its own while queued, so the reconciler
    does not queue it again meanwhile; one under way keeps its owner (the new task finds
    it held and leaves)."""
    from citewise.knowledge.tasks import reembed_knowledge_base

    KnowledgeBase.objects.filter(reembedding_lease_free(), pk=kb.pk).update(
        reembed_task_id="", reembed_lease_expires_at=_lease_end())
    reembed_knowledge_base.delay_on_commit(kb.pk)


def reembedding_lease_free() -> Q:
    """Knowledge bases whose re-embedding lease nobody holds now: never taken, or
    expired (its task died)."""
    return (Q(reembed_lease_expires_at__isnull=True)
            | Q(reembed_lease_expires_at__lt=timezone.now()))


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)


def claim_reembedding(kb_id: int, task_id: str) -> bool:
    """Take the knowledge base's pending re-embedding for task `task_id` (compare and
    swap): True when it is free, queued (no owner), expired, or already this task's (a
    retry); False when there is none or another task holds it."""
    free = reembedding_lease_free() | Q(reembed_task_id="") | Q(reembed_task_id=task_id)
    return KnowledgeBase.objects.filter(free, pk=kb_id).exclude(
        pending_embedding_model="").update(reembed_task_id=task_id,
                                           reembed_lease_expires_at=_lease_end()) == 1


def renew_reembedding(kb_id: int, task_id: str) -> None:
    """The task is alive: push its lease forward."""
    KnowledgeBase.objects.filter(pk=kb_id, reembed_task_id=task_id).update(
        reembed_lease_expires_at=_lease_end())


def explain(kb: KnowledgeBase, decision: Decision) -> None:
    """Save the sentence admins see, e.g. "auto: Korean (87% of 1,234 sampled characters
    in 3 documents) -> model X, chunk budget 256 tokens"."""
    reason = (f"auto: {decision.describe()} -> model {kb.embedding_model}, "
              f"chunk budget {indexing.chunk_budget(kb)} tokens")
    if kb.pending_embedding_model:
        reason += (f"; re-embedding into {kb.pending_embedding_model}, the current index "
                   "serves until it is done")
    elif not _model_is_ours(kb):
        reason += " (chosen by an administrator)"
    kb.language_reason = reason[:500]
    KnowledgeBase.objects.filter(pk=kb.pk).update(language_reason=kb.language_reason)


def summary(kb: KnowledgeBase) -> str:
    """What the knowledge base's language setting chose and why, for admins."""
    if kb.language != LanguageHint.AUTO:
        return (f"{kb.get_language_display()} (set at creation) -> model "
                f"{kb.embedding_model}")
    return kb.language_reason or ("auto: the first document with text decides; until "
                                  f"then {kb.embedding_model}")


def reembed(kb_id: int, *, task_id: str = "") -> dict:
    """Run (or resume) the knowledge base's pending re-embedding for task `task_id`:
    embed every chunk with the new model beside the old vectors, swap both at once,
    rebuild the index. Returns at once when another live task holds it. Raises
    KnowledgeBaseBusy while documents are being ingested (the caller retries with the
    same task id, which keeps the lease)."""
    if not claim_reembedding(kb_id, task_id):
        pending = KnowledgeBase.objects.filter(pk=kb_id).exclude(pending_embedding_model="")
        return {"knowledge_base": kb_id,
                "status": "held by another task" if pending.exists() else "nothing to do"}
    kb = KnowledgeBase.objects.get(pk=kb_id)
    model = kb.pending_embedding_model

    def alive() -> None:
        renew_reembedding(kb_id, task_id)

    indexing.embed_next(kb, model, heartbeat=alive)
    while not _swapped(kb_id, model):
        indexing.embed_next(kb, model, heartbeat=alive)  # chunks indexed meanwhile
    kb.refresh_from_db()
    count = indexing.rebuild_indexes(kb)
    KnowledgeBase.objects.filter(pk=kb_id, reembed_task_id=task_id).update(
        reembed_task_id="", reembed_lease_expires_at=None)
    decision = decide(knowledge_base_profile(kb))
    if decision is not None:
        explain(kb, decision)
    return {"knowledge_base": kb_id, "status": "swapped", "model": model, "chunks": count}


def _swapped(kb_id: int, model: str) -> bool:
    """Swap to `model` if every chunk has its new vector; False if some still lack one."""
    with transaction.atomic():
        kb = KnowledgeBase.objects.select_for_update().get(pk=kb_id)
        if kb.pending_embedding_model != model:  # another run swapped already
            return True
        if kb.documents.filter(status__in=BUSY).exists():
            raise KnowledgeBaseBusy(f"{kb.name}: documents are still being ingested")
        if kb.chunks.filter(next_embedding=None).exists():
            return False
        indexing.swap_embeddings(kb, model)
    return True
