from __future__ import annotations

from dataclasses import dataclass

import pytest

from inference.answerability import (
    AnswerabilityConfig,
    choose_threshold,
    coverage,
    decide,
    evidence,
)
from inference.backends.extractive import ExtractiveBackend

from .helpers import source


@dataclass
class Result:
    fused_score: float
    dense_score: float | None
    lexical_score: float | None
    term_coverage: float | None = None


def test_evidence_features():
    sources = [source(1, "Python runs on Windows and Linux.")]
    sentences = ExtractiveBackend().score_sentences("Does Python run on Windows?", sources)
    features = evidence("Does Python run on Windows?", sources=sources,
                        results=[Result(0.03, 0.8, 7.0, 0.4), Result(0.02, None, 9.0, 0.7)],
                        sentences=sentences)
    assert features["fused"] == 0.03
    assert features["dense"] == 0.8
    assert features["lexical"] == 9.0
    assert features["term_coverage"] == 0.7
    assert features["coverage"] == pytest.approx(2 / 3)  # python, windows of python run windows
    assert features["sentence"] == sentences[0].score
    assert features["sentence_semantic"] is None


def test_decide_uses_weights_and_threshold():
    features = {"dense": 0.5, "coverage": 0.2, "fused": None}
    assert decide(features, AnswerabilityConfig({"dense": 1.0}, 0.4)).answerable
    decision = decide(features, AnswerabilityConfig({"dense": 0.5, "coverage": 0.5}, 0.4))
    assert not decision.answerable
    assert decision.score == pytest.approx(0.35)
    assert not decide({"fused": None}, AnswerabilityConfig({"fused": 1.0}, 0.0001)).answerable
    with pytest.raises(ValueError, match="unknown"):
        AnswerabilityConfig({"nope": 1.0})


def test_coverage():
    assert coverage("Python Windows", ["python on windows"]) == 1.0
    assert coverage("", ["x"]) == 0.0


def test_choose_threshold_meets_the_constraints():
    answerable = [0.9, 0.8, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.1]
    unanswerable = [0.05, 0.1, 0.15, 0.2, 0.2, 0.25, 0.3, 0.3, 0.35, 0.6]
    calibration = choose_threshold(answerable, unanswerable)
    assert calibration.feasible
    assert 0.35 < calibration.threshold <= 0.4
    assert calibration.refuse_answerable == pytest.approx(0.1)
    assert calibration.refuse_unanswerable == pytest.approx(0.9)
    assert calibration.accuracy == pytest.approx(0.9)


def test_choose_threshold_reports_infeasible():
    calibration = choose_threshold([0.1, 0.2], [0.3, 0.4])
    assert not calibration.feasible
    with pytest.raises(ValueError):
        choose_threshold([], [0.1])
