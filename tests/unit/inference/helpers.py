"""Shared test data for the inference unit tests."""

from __future__ import annotations

import hashlib

import numpy as np

from inference.sources import Source
from textproc.tokens import match_tokens


def source(n: int, text: str, *, score: float | None = None, title: str = "",
           page: int | None = None, heading: tuple[str, ...] = ()) -> Source:
    return Source(n=n, chunk_id=100 + n, title=title or f"Doc {n}", document=f"doc{n}.pdf",
                  page=page, heading_path=heading, text=text,
                  score=score if score is not None else 1.0 / n)


def _vector(text: str, dim: int = 64) -> np.ndarray:
    """A deterministic bag-of-tokens embedding: similar token sets -> high cosine."""
    v = np.zeros(dim, dtype=np.float32)
    for token in match_tokens(text):
        digest = hashlib.blake2b(token.encode(), digest_size=4).digest()
        v[int.from_bytes(digest, "little") % dim] += 1.0
    norm = np.linalg.norm(v)
    return v / norm if norm else v


def embed_query(text: str) -> np.ndarray:
    return _vector(text)


def embed_passages(texts: list[str]) -> np.ndarray:
    return np.stack([_vector(t) for t in texts]) if texts else np.zeros((0, 64), np.float32)
