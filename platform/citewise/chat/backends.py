"""Which answer backend a knowledge base uses, built once per process from settings."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache

import numpy as np
from django.conf import settings

from citewise.knowledge import indexing
from citewise.knowledge.choices import AnswerBackend
from citewise.knowledge.models import KnowledgeBase
from citewise.ops.metrics import answer_stage
from inference.backends.extractive import ExtractiveBackend
from inference.backends.vllm import VLLMBackend, VLLMConfig
from inference.errors import ErrorCode, LLMUnavailable
from inference.verify import EmbedTexts, Entail, Verifier, VerifierConfig

logger = logging.getLogger(__name__)


def backend_name(kbs: list[KnowledgeBase]) -> AnswerBackend:
    """The knowledge bases' own setting when they agree on one, else the server's."""
    chosen = {kb.answer_backend for kb in kbs if kb.answer_backend}
    return AnswerBackend(chosen.pop() if len(chosen) == 1 else settings.ANSWER_BACKEND)


@cache
def vllm_backend() -> VLLMBackend:
    if not settings.VLLM_BASE_URL or not settings.VLLM_MODEL:
        # A knowledge base set to "vllm" on a server without an LLM: an answer error the
        # person asking can read (or the extractive fallback), not a crash.
        raise LLMUnavailable("No language model is configured on this server (VLLM_BASE_URL "
                             "and VLLM_MODEL); ask an administrator.",
                             code=ErrorCode.NOT_CONFIGURED)
    return VLLMBackend(vllm_config(), timer=answer_stage)


def vllm_config(*, timeout: float | None = None) -> VLLMConfig:
    """The LLM connection from settings (`timeout` overrides VLLM_TIMEOUT, e.g. for a
    quick readiness probe)."""
    seconds = settings.VLLM_TIMEOUT if timeout is None else timeout
    return VLLMConfig(
        base_url=settings.VLLM_BASE_URL, model=settings.VLLM_MODEL,
        api_key=settings.VLLM_API_KEY, read_timeout=seconds,
        connect_timeout=min(seconds, 5.0),
        max_concurrency=settings.VLLM_MAX_CONCURRENCY,
        context_length=settings.VLLM_CONTEXT_LENGTH, max_tokens=settings.VLLM_MAX_TOKENS,
    )


def extractive_backend(kb: KnowledgeBase) -> ExtractiveBackend:
    """Sentence scoring with the knowledge base's own embedding model."""
    return _extractive(indexing.embedder_config(kb))


@cache
def _extractive(config) -> ExtractiveBackend:
    from retrieval.embedder import get_embedder

    embedder = get_embedder(config)
    return ExtractiveBackend(embed_query=embedder.embed_query,
                             embed_passages=SentenceEmbeddingCache(embedder.embed_passages),
                             count_tokens=embedder.count_tokens)


class SentenceEmbeddingCache:
    """Remembers sentence embeddings across questions.

    Scoring a question embeds every sentence of its sources, and popular passages come
    back question after question; the verifier then embeds the quoted sentences again.
    Embedding is most of the time Citewise adds around an answer on a CPU, so each
    sentence is embedded once per process (least recently used ones are forgotten).
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray], *,
                 max_items: int = 50_000) -> None:
        self.embed = embed
        self.max_items = max_items
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = np.asarray(self.embed(missing), dtype=np.float32)
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
        with self._lock:
            for text in texts:
                self._vectors.move_to_end(text)
            vectors = [self._vectors[text] for text in texts]
            while len(self._vectors) > self.max_items:
                self._vectors.popitem(last=False)
        return np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)


def verifier(embed: EmbedTexts) -> Verifier:
    """The citation checker: lexical and semantic support, and the entailment model when
    CITEWISE_ENTAILMENT_MODEL names one."""
    return Verifier(embed=embed, entail=entailment_model(),
                    config=VerifierConfig(entailment_threshold=settings.ENTAILMENT_THRESHOLD))


@cache
def entailment_model() -> Entail | None:
    if not settings.ENTAILMENT_MODEL:
        return None
    from inference.entailment import EntailmentModel

    try:
        return EntailmentModel(settings.ENTAILMENT_MODEL)
    except Exception as error:  # any load failure means "not available"
        # Answers must not fail over it: citations are then checked without entailment,
        # and the log says why (once per process).
        logger.error("CITEWISE_ENTAILMENT_MODEL=%s could not be loaded (%s); citations are "
                     "checked without entailment", settings.ENTAILMENT_MODEL, error)
        return None
