"""Sentence embeddings are computed once per process and come back in order."""

from __future__ import annotations

import numpy as np

from citewise.chat.backends import SentenceEmbeddingCache


class CountingEmbedder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def test_each_sentence_is_embedded_once_and_order_is_kept():
    embed = CountingEmbedder()
    cached = SentenceEmbeddingCache(embed, max_items=10)
    first = cached(["alpha", "be", "alpha"])
    second = cached(["be", "gamma"])
    assert embed.seen == ["alpha", "be", "gamma"]
    assert first.tolist() == [[5, 97], [2, 98], [5, 97]]
    assert second.tolist() == [[2, 98], [5, 103]]


def test_least_recently_used_sentences_are_forgotten():
    embed = CountingEmbedder()
    cached = SentenceEmbeddingCache(embed, max_items=2)
    cached(["a1", "b1"])
    cached(["a1"])  # b1 is now the oldest
    cached(["c1"])
    cached(["a1", "b1"])
    assert embed.seen == ["a1", "b1", "c1", "b1"]
