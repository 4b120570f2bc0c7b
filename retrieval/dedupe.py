"""Near-duplicate removal: the same boilerplate or a re-uploaded document should not fill
several of the few places an answer has for sources."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from textproc.normalize import fold


def shingles(text: str, size: int = 5) -> frozenset[str]:
    """Character n-grams of the normalised text: language-agnostic (works for Korean,
    which has no reliable word boundaries) and robust to re-wrapped lines."""
    text = fold(text)
    if len(text) <= size:
        return frozenset([text]) if text else frozenset()
    return frozenset(text[i:i + size] for i in range(len(text) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(ordered: Sequence[Hashable], texts: Mapping[Hashable, str], *,
                    threshold: float = 0.8) -> set[Hashable]:
    """Keys to drop: each key whose text is >= threshold similar to a better-ranked kept
    one. Keys without a text are kept (nothing to compare)."""
    kept: list[frozenset[str]] = []
    dropped: set[Hashable] = set()
    for key in ordered:
        if key not in texts:
            continue
        current = shingles(texts[key])
        if any(jaccard(current, other) >= threshold for other in kept):
            dropped.add(key)
        else:
            kept.append(current)
    return dropped
