"""Optional cross-encoder reranking (off by default: it costs a model forward pass per
candidate, ~10-50 ms each on CPU)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from retrieval.embedder import resolve_model_path


class Reranker(Protocol):
    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """Relevance of each text to the query; higher is better."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder by model id or local path (loaded once)."""

    def __init__(self, model: str, *, batch_size: int = 16, device: str | None = None,
                 max_length: int | None = 512) -> None:
        from sentence_transformers import CrossEncoder  # lazy: heavy (torch)

        self.model_name = model
        self.batch_size = batch_size
        self._model: Any = CrossEncoder(resolve_model_path(model), device=device,
                                        max_length=max_length)
        self._guard = threading.Lock()

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        with self._guard:
            scores = self._model.predict([(query, text) for text in texts],
                                         batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]
