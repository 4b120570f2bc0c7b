"""Calibrates the answerability threshold on the shared evaluation sets.

    .venv/bin/python benchmarks/inference_calibrate.py [--questions 100] [--top 3] [--json]

Answerable: python-faq questions against the python-faq passages, korquad questions
against the korquad paragraphs. Unanswerable: each set's questions asked of the other
set's passages. Retrieval is the real HybridSearcher over VectorStore and LexicalStore
(passages built by benchmarks/retrieval_quality.py); the features are those of
inference.answerability (best fused/dense/BM25 scores, question coverage, and the
extractive backend's sentence scores). For each feature the threshold with the most
correct decisions under refusal(answerable) <= 0.1 and refusal(unanswerable) >= 0.9
is chosen; both rates are reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.retrieval_quality import Bench, Corpus, korquad, python_faq
from inference.answerability import FEATURES, choose_threshold, evidence
from inference.backends.extractive import ExtractiveBackend
from inference.sources import Source
from retrieval.embedder import EmbedderConfig, get_embedder
from retrieval.hybrid import HybridSearcher, KnowledgeBaseRef, SearchOptions


def features_for(bench: Bench, corpus_questions: list[str], backend: ExtractiveBackend,
                 top: int) -> list[dict[str, float | None]]:
    searcher = HybridSearcher(bench.vectors, bench.lexical)
    kb = KnowledgeBaseRef("kb", embedder=bench.embedder_config)
    rows = []
    for question in corpus_questions:
        results = searcher.search(question, [kb], options=SearchOptions(k=top))
        sources = [Source(i + 1, r.chunk_id, f"p{r.chunk_id}", "eval", None, (),
                          bench.corpus.texts[r.chunk_id], r.fused_score)
                   for i, r in enumerate(results)]
        sentences = backend.score_sentences(question, sources)
        rows.append(evidence(question, sources=sources, results=results, sentences=sentences))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100, help="per eval set")
    parser.add_argument("--top", type=int, default=3, help="sources per question")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    started = time.perf_counter()
    config = EmbedderConfig()
    embedder = get_embedder(config)
    backend = ExtractiveBackend(embed_query=embedder.embed_query,
                                embed_passages=embedder.embed_passages)
    faq: Corpus = python_faq()
    kq: Corpus = korquad(args.questions)
    benches = {"python-faq": Bench(faq, embedder=config), "korquad": Bench(kq, embedder=config)}
    questions = {"python-faq": faq.questions[: args.questions],
                 "korquad": kq.questions[: args.questions]}
    answerable: list[dict[str, float | None]] = []
    unanswerable: list[dict[str, float | None]] = []
    for asked, other in (("python-faq", "korquad"), ("korquad", "python-faq")):
        answerable += features_for(benches[asked], questions[asked], backend, args.top)
        unanswerable += features_for(benches[other], questions[asked], backend, args.top)

    report = {"answerable": len(answerable), "unanswerable": len(unanswerable),
              "top": args.top, "features": {}}
    for feature in FEATURES:
        a = [row[feature] for row in answerable]
        u = [row[feature] for row in unanswerable]
        if any(v is None for v in a + u):
            continue
        calibration = choose_threshold(a, u)
        report["features"][feature] = {
            "threshold": round(calibration.threshold, 4),
            "refuse_answerable": round(calibration.refuse_answerable, 3),
            "refuse_unanswerable": round(calibration.refuse_unanswerable, 3),
            "accuracy": round(calibration.accuracy, 3),
            "feasible": calibration.feasible,
        }
    best = max(report["features"].items(),
               key=lambda kv: (kv[1]["feasible"], kv[1]["accuracy"]))
    report["chosen"] = {"weights": {best[0]: 1.0}, **best[1]}
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{len(answerable)} answerable, {len(unanswerable)} unanswerable questions, "
          f"top {args.top} sources, {report['seconds']} s")
    print(f"{'feature':<20}{'threshold':>10}{'refuse ans.':>13}{'refuse unans.':>15}"
          f"{'accuracy':>10}  feasible")
    for feature, r in report["features"].items():
        print(f"{feature:<20}{r['threshold']:>10.4f}{r['refuse_answerable']:>13.3f}"
              f"{r['refuse_unanswerable']:>15.3f}{r['accuracy']:>10.3f}  {r['feasible']}")
    print(f"chosen: {best[0]} >= {best[1]['threshold']:.4f}")


if __name__ == "__main__":
    main()
