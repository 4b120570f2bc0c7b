"""Which answer backend a knowledge base uses, built once per process from settings."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from citewise.knowledge import indexing
from citewise.knowledge.models import KnowledgeBase
from inference.backends.extractive import ExtractiveBackend
from inference.backends.vllm import VLLMBackend, VLLMConfig


def backend_name(kbs: list[KnowledgeBase]) -> str:
    """The knowledge bases' own setting when they agree on one, else the server's."""
    chosen = {kb.answer_backend for kb in kbs if kb.answer_backend}
    return chosen.pop() if len(chosen) == 1 else settings.ANSWER_BACKEND


@cache
def vllm_backend() -> VLLMBackend:
    if not settings.VLLM_BASE_URL or not settings.VLLM_MODEL:
        raise ValueError("the vllm backend needs VLLM_BASE_URL and VLLM_MODEL")
    return VLLMBackend(VLLMConfig(
        base_url=settings.VLLM_BASE_URL, model=settings.VLLM_MODEL,
        api_key=settings.VLLM_API_KEY, read_timeout=settings.VLLM_TIMEOUT,
        connect_timeout=min(settings.VLLM_TIMEOUT, 5.0),
        max_concurrency=settings.VLLM_MAX_CONCURRENCY,
        context_length=settings.VLLM_CONTEXT_LENGTH, max_tokens=settings.VLLM_MAX_TOKENS,
    ))


def extractive_backend(kb: KnowledgeBase) -> ExtractiveBackend:
    """Sentence scoring with the knowledge base's own embedding model."""
    return _extractive(indexing.embedder_config(kb))


@cache
def _extractive(config) -> ExtractiveBackend:
    from retrieval.embedder import get_embedder

    embedder = get_embedder(config)
    return ExtractiveBackend(embed_query=embedder.embed_query,
                             embed_passages=embedder.embed_passages,
                             count_tokens=embedder.count_tokens)
