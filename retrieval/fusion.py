"""Reciprocal rank fusion (Cormack et al., 2009) with per-list weights.

RRF uses ranks, not scores, because cosine similarities and BM25 scores live on unrelated
scales (and BM25 scales differ between knowledge bases). Each list's weight can be scaled
by how confident that list is for this query: an English-only embedding model given a
Korean question returns near-identical similarities for every passage, and letting that
noise vote as loudly as a sharp BM25 ranking drags good lexical hits down.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionConfig:
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    # The heading list's weight when a heading is the question word for word (scaled by
    # the square of the best match); 0: no heading list. At 2 a question naming a section
    # outweighs BM25 and the embedding agreeing on the parent section that repeats its
    # words (benchmarks/RESULTS.md, "Real documents: heading match, typo-tolerant BM25").
    heading_weight: float = 2.0
    # The heading list votes only when some heading matches the question at least this
    # well (heading_match): a question naming a section matches its heading almost word
    # for word, while a paraphrase sharing two or three words with a heading ("remote
    # server connection") pulled that section above the one answering it: on the Debian
    # documentation, at 0 English paraphrase Recall@5 fell 0.896 -> 0.875 and citation
    # precision 0.875 -> 0.837; at 0.7 the paraphrased questions rank as without the list
    # and headings as at 0 (benchmarks/RESULTS.md, "The heading list on by default").
    heading_min_match: float = 0.7
    rrf_k: float = 60.0
    candidates: int = 50  # taken from each method and knowledge base before fusion
    adaptive: bool = True  # scale each list's weight by its confidence
    # Cosine lead of the best hit over the median candidate at which a dense list counts
    # as fully confident. Measured with all-MiniLM-L6-v2: 0.30-0.59 (10th-90th percentile)
    # on English FAQ questions it understands, 0.05-0.13 on Korean questions it does not.
    dense_confident_gap: float = 0.3
    # At or below this lead a dense list is noise and gets no vote: a small weight still
    # reorders near-tied BM25 ranks under RRF (KorQuAD Recall@1 fell 0.90 -> 0.59).
    dense_noise_gap: float = 0.15


@dataclass(frozen=True)
class RankedList:
    keys: Sequence[Hashable]  # best first
    scores: Sequence[float]
    weight: float
    # Per key, in [0, 1]: the share of `weight` that key's vote gets (None: all of it).
    # For a list whose scores have a fixed meaning (the heading match), where the rank
    # alone would make a near miss vote almost as loudly as the best.
    shares: Sequence[float] | None = None


def rrf(lists: Sequence[RankedList], *, k: float) -> dict[Hashable, float]:
    """sum over lists of weight x share / (k + rank), ranks starting at 1."""
    fused: dict[Hashable, float] = {}
    for ranked in lists:
        shares = ranked.shares if ranked.shares is not None else [1.0] * len(ranked.keys)
        for rank, (key, share) in enumerate(zip(ranked.keys, shares, strict=True), start=1):
            fused[key] = fused.get(key, 0.0) + ranked.weight * share / (k + rank)
    return fused


def dense_confidence(scores: Sequence[float], *, confident_gap: float,
                     noise_gap: float = 0.0) -> float:
    """Cosine similarities have a fixed scale, so the best hit's absolute lead over the
    median candidate is meaningful: a model that cannot read the language gives every
    passage about the same similarity (a lead of a few hundredths)."""
    values = np.asarray(scores, dtype=np.float64)
    if len(values) < 3:
        return 1.0 if len(values) else 0.0
    lead = float(values.max() - np.median(values))
    return min(1.0, max(0.0, (lead - noise_gap) / (confident_gap - noise_gap)))


def confidence(scores: Sequence[float]) -> float:
    """How clearly a list's best hit stands out from the rest, in [0, 1].

    The top score's lead over the median of the list, relative to the list's range: ~1 when
    one or a few passages are clearly better, ~0 when all scores are alike (the model cannot
    tell the passages apart). Scale-free, so it applies to cosine and BM25 scores alike.
    """
    values = np.asarray(scores, dtype=np.float64)
    if len(values) < 3:
        return 1.0 if len(values) else 0.0
    spread = values.max() - values.min()
    if spread <= 1e-12:
        return 0.0
    return float((values.max() - np.median(values)) / spread)
