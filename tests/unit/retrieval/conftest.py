from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedder import TextEmbedder, get_embedder


@pytest.fixture(scope="session")
def embedder() -> TextEmbedder:
    """The packaged all-MiniLM-L6-v2: real weights, loaded once for the whole run."""
    return get_embedder()


def unit_vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
