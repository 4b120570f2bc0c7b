"""Does the retrieved evidence answer the question? A linear score over named evidence
features against a threshold, both parameters, calibrated on the eval sets
(benchmarks/inference_calibrate.py) by measuring refusals on answerable questions and on
unanswerable ones.

Features (None when unknown; missing features count as 0):
- fused: best fused (RRF) retrieval score      - dense: best cosine similarity
- lexical: best BM25 score (unbounded)          - coverage: best share of the question's
  tokens found in one source (0..1)
- sentence: best extractive sentence score      - sentence_lexical / sentence_semantic:
  its lexical / semantic parts (best of each)
- term_coverage: best idf-weighted share of the question's terms in one source, with the
  knowledge base's own idf (retrieval's Bm25Matrix.term_coverage): a question term the
  knowledge base never uses weighs most
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inference.backends.extractive import ScoredSentence
from inference.sources import Source
from textproc.tokens import match_tokens

FEATURES = ("fused", "dense", "lexical", "coverage", "term_coverage", "sentence",
            "sentence_lexical", "sentence_semantic")
SENTENCE_FEATURES = frozenset({"sentence", "sentence_lexical", "sentence_semantic"})


@dataclass(frozen=True)
class AnswerabilityConfig:
    weights: Mapping[str, float] = field(default_factory=lambda: {"sentence": 1.0})
    threshold: float = 0.3

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown answerability features {sorted(unknown)}; "
                             f"known: {FEATURES}")

    @property
    def uses_sentences(self) -> bool:
        """Whether the decision reads the extractive backend's scored sentences (which
        cost an embedding of every sentence of the sources)."""
        return any(self.weights.get(name) for name in SENTENCE_FEATURES)


@dataclass(frozen=True)
class Decision:
    answerable: bool
    score: float
    threshold: float
    features: dict[str, float | None]


def coverage(question: str, texts: Iterable[str]) -> float:
    """The best share of the question's distinct tokens that one text contains."""
    wanted = set(match_tokens(question))
    if not wanted:
        return 0.0
    return max((len(wanted & set(match_tokens(t))) / len(wanted) for t in texts), default=0.0)


def _best(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def evidence(question: str, *, sources: Sequence[Source] = (),
             results: Sequence[Any] = (),
             sentences: Sequence[ScoredSentence] = ()) -> dict[str, float | None]:
    """Features from retrieval results (objects with fused_score, dense_score,
    lexical_score and optionally term_coverage attributes), the sources' texts and the
    extractive backend's scored sentences."""
    return {
        "fused": _best(getattr(r, "fused_score", None) for r in results),
        "dense": _best(getattr(r, "dense_score", None) for r in results),
        "lexical": _best(getattr(r, "lexical_score", None) for r in results),
        "coverage": coverage(question, [s.text for s in sources]) if sources else None,
        "term_coverage": _best(getattr(r, "term_coverage", None) for r in results),
        "sentence": _best(s.score for s in sentences),
        "sentence_lexical": _best(s.lexical for s in sentences),
        "sentence_semantic": _best(s.semantic for s in sentences),
    }


def score(features: Mapping[str, float | None], weights: Mapping[str, float]) -> float:
    return sum(w * (features.get(name) or 0.0) for name, w in weights.items())


def decide(features: Mapping[str, float | None],
           config: AnswerabilityConfig | None = None) -> Decision:
    config = config or AnswerabilityConfig()
    value = score(features, config.weights)
    return Decision(value >= config.threshold, value, config.threshold, dict(features))


@dataclass(frozen=True)
class Calibration:
    threshold: float
    refuse_answerable: float  # share of answerable questions refused
    refuse_unanswerable: float  # share of unanswerable questions refused
    accuracy: float  # share of correct decisions over both sets
    feasible: bool  # both constraints met


def choose_threshold(answerable: Sequence[float], unanswerable: Sequence[float], *,
                     max_refuse_answerable: float = 0.1,
                     min_refuse_unanswerable: float = 0.9) -> Calibration:
    """The threshold (answer when score >= threshold) with the most correct decisions
    among those meeting both refusal constraints; when none meets them, the most
    accurate one, marked infeasible."""
    if not answerable or not unanswerable:
        raise ValueError("calibration needs answerable and unanswerable scores")
    values = sorted(set(answerable) | set(unanswerable))
    candidates = [values[0] - 1e-9] + [(a + b) / 2 for a, b in itertools.pairwise(values)]
    candidates.append(values[-1] + 1e-9)
    best: Calibration | None = None
    for t in candidates:
        refuse_a = sum(1 for x in answerable if x < t) / len(answerable)
        refuse_u = sum(1 for x in unanswerable if x < t) / len(unanswerable)
        correct = (sum(1 for x in answerable if x >= t) + sum(1 for x in unanswerable if x < t))
        accuracy = correct / (len(answerable) + len(unanswerable))
        feasible = refuse_a <= max_refuse_answerable and refuse_u >= min_refuse_unanswerable
        current = Calibration(float(t), refuse_a, refuse_u, accuracy, feasible)
        if best is None or (current.feasible, current.accuracy) > (best.feasible, best.accuracy):
            best = current
    assert best is not None
    return best
