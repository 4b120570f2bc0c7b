"""Near-duplicate removal: the same boilerplate or a re-uploaded document should not fill
several of the few places an answer has for sources.

Similarity is the Jaccard index of character 5-gram sets of the normalised texts:
language-agnostic (works for Korean, which has no reliable word boundaries) and robust to
re-wrapped lines. It runs on every search, before the first token of an answer, over the
~30 best hits, so the overlaps of all pairs are counted at once with numpy (~500 pairs of
~1,000-shingle sets took tens of milliseconds as Python sets; a few with arrays).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from textproc.normalize import fold

SIZE = 5
K = TypeVar("K", bound=Hashable)


def shingles(text: str, size: int = SIZE) -> frozenset[str]:
    """Character n-grams of the normalised text (a text shorter than `size` is its own
    single shingle). The reference definition that near_duplicates computes with arrays."""
    text = fold(text)
    if len(text) <= size:
        return frozenset([text]) if text else frozenset()
    return frozenset(text[i:i + size] for i in range(len(text) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(ordered: Sequence[K], texts: Mapping[K, str], *,
                    threshold: float = 0.8) -> set[K]:
    """Keys to drop: each key whose text is >= threshold similar (Jaccard of shingles) to
    a better-ranked kept one. Keys without a text are kept (nothing to compare)."""
    present = [key for key in ordered if key in texts]
    if len(present) < 2:
        return set()
    sizes, overlap = _shingle_overlaps([texts[key] for key in present])
    kept: list[int] = []
    dropped: set[K] = set()
    for i, key in enumerate(present):
        if kept:
            shared = overlap[i, kept]
            union = sizes[i] + sizes[kept] - shared
            # Two empty texts are the same text (jaccard's convention).
            similar = np.where(union > 0, shared / np.maximum(union, 1), 1.0)
            if (similar >= threshold).any():
                dropped.add(key)
                continue
        kept.append(i)
    return dropped


def _shingle_overlaps(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(shingle count per text, (m, m) count of shingles each pair shares)."""
    ids, owners = _shingle_ids(texts)
    m = len(texts)
    sizes = np.bincount(owners, minlength=m)
    # Sorted by shingle, then owner: texts sharing a shingle sit next to each other, so
    # the pairs at distance d (d = 1..m-1) with the same shingle are all the shared ones.
    counts = np.zeros(m * m, dtype=np.int64)
    for d in range(1, m):
        same = np.flatnonzero(ids[d:] == ids[:-d])
        if not len(same):
            break  # no shingle is held by more than d texts
        counts += np.bincount(owners[same] * m + owners[same + d], minlength=m * m)
    overlap = counts.reshape(m, m)
    return sizes, overlap + overlap.T


def _shingle_ids(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(shingle id, text index) of each distinct shingle of each text, sorted by id, then
    text. A shingle's id is its characters as a number in the base of the texts' alphabet:
    exact while that fits in 64 bits (fewer than 7,131 distinct characters among the texts
    compared); past that it wraps around, a 64-bit polynomial hash."""
    codes = [np.frombuffer(fold(text).encode("utf-32-le"), dtype=np.uint32) for text in texts]
    # A text shorter than SIZE is one shingle, padded with NUL to SIZE characters.
    lengths = np.array([max(len(c), SIZE) if len(c) else 0 for c in codes])
    padded = [np.pad(c, (0, SIZE - len(c))) if 0 < len(c) < SIZE else c for c in codes]
    joined = np.concatenate(padded) if lengths.sum() else np.zeros(0, np.uint32)
    if len(joined) < SIZE:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    alphabet, digits = np.unique(joined, return_inverse=True)
    digits = digits.astype(np.uint64)
    base = np.uint64(len(alphabet))
    windows = np.lib.stride_tricks.sliding_window_view(digits, SIZE)
    ids: np.ndarray = np.zeros(len(windows), dtype=np.uint64)
    for column in range(SIZE):
        ids = ids * base + windows[:, column]
    # Keep the windows that start and end inside one text.
    owners = np.repeat(np.arange(len(texts)), lengths)[:len(windows)]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    inside = np.arange(len(windows)) - starts[owners] <= lengths[owners] - SIZE
    ids, owners = ids[inside], owners[inside]
    order = np.lexsort((owners, ids))
    ids, owners = ids[order], owners[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = (ids[1:] != ids[:-1]) | (owners[1:] != owners[:-1])
    return ids[first], owners[first]
