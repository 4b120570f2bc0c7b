"""The extractive answer step's choices replayed on the Debian documentation set.

After `benchmarks/debian_docs.py --rows ROWS` (its data directory is printed and kept),
this replays, per hand-written question, the ask steps up to the extractive choice
(search with typo correction, the answerability decision, the passage choice) with each
variant of ExtractiveConfig, on the same knowledge bases and passages, and prints what
the issue's answer gates measure: citation precision, refusal of answerable and of
unanswerable questions, and "search had it at rank 1 but ask refused or cited another
passage".

    .venv/bin/python benchmarks/debian_docs_answer_variants.py --data-dir DIR [--rows ROWS] [--list]

Without --rows, whether search ranked the evidence first is decided here, under this
process's settings (CITEWISE_HEADING_WEIGHT among them), so one ingestion serves every
search setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS: dict[str, dict] = {
    "default": {},
    "no abstaining": {"abstain_on_disagreement": False},
    "no abstaining, tolerance 0.6": {"abstain_on_disagreement": False, "source_tolerance": 0.6},
    "no abstaining, tolerance 0.85": {"abstain_on_disagreement": False,
                                      "source_tolerance": 0.85},
    "tolerance 0.5": {"source_tolerance": 0.5},
    "term coverage >= 0.45": {"answerability": "term_coverage>=0.45"},
    "term coverage >= 0.40": {"answerability": "term_coverage>=0.40"},
}


def setup(data_dir: str) -> None:
    os.environ["CITEWISE_DATA_DIR"] = data_dir
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    import django

    django.setup()


class Prepared:
    """One question's passages, sources and answerability decision (shared by variants)."""

    def __init__(self, language: str, item) -> None:
        from benchmarks.debian_docs import holds
        from citewise.chat import services
        from citewise.chat.backends import extractive_backend
        from citewise.knowledge.models import Chunk, KnowledgeBase
        from citewise.knowledge.permissions import SYSTEM
        from inference.answerability import decide, evidence

        kb = KnowledgeBase.objects.get(slug=f"debian-docs-{language}")
        answer = services._Answer(SYSTEM, item.question, [kb], None, 0.0)
        self.query, self.passages = answer._retrieve(item.question)
        self.sources = [services._source(n, p) for n, p in enumerate(self.passages, 1)]
        self.extractive = extractive_backend(kb)
        sentences = self.extractive.score_sentences(self.query, self.sources)
        self.features = evidence(self.query, sources=self.sources, sentences=sentences,
                                 results=[services._scores(p) for p in self.passages])
        self.answerable = decide(self.features, services.answerability_config()).answerable
        chunks = Chunk.objects.filter(pk__in=[p.chunk_id for p in self.passages])
        self.texts = {c.pk: (c.document.original_name, c.text)
                      for c in chunks.select_related("document")}
        # Does search's first passage, for the question as asked, hold the evidence (the
        # run's rank 1, here under this process's settings, e.g. CITEWISE_HEADING_WEIGHT)?
        top = services.search(SYSTEM, item.question, knowledge_bases=[kb], k=1)
        self.first_holds = bool(top) and item.kind != "unanswerable" and holds(
            item, top[0].document, top[0].text)

    def cited(self, overrides: dict) -> list[int] | None:
        """The chunk ids the variant quotes; None for a refusal."""
        chosen = self.quoted(overrides)
        return sorted({self.passages[s.n - 1].chunk_id for s in chosen}) or None

    def quoted(self, overrides: dict) -> list:
        """The sentences the variant quotes (empty: a refusal). An "answerability" entry
        of `overrides` ("FEATURE>=THRESHOLD") replaces the service's decision."""
        from inference.answerability import AnswerabilityConfig, decide
        from inference.backends.extractive import ExtractiveBackend

        overrides = dict(overrides)
        gate = overrides.pop("answerability", None)
        if gate is not None:
            feature, threshold = gate.split(">=")
            gate = AnswerabilityConfig(weights={feature: 1.0}, threshold=float(threshold))
        answerable = self.answerable if gate is None else decide(self.features, gate).answerable
        if not answerable:
            return []
        ex = self.extractive
        backend = ExtractiveBackend(embed_query=ex.embed_query, embed_passages=ex.embed_passages,
                                    config=dataclasses.replace(ex.config, **overrides))
        return backend.select(self.query, self.sources)


def _first(item, rows: dict | None, ready: Prepared) -> bool:
    """Search had the evidence at rank 1: the run's row, or searched here without rows."""
    return ready.first_holds if rows is None else rows[item.id]["rank"] == 1


def measure(language: str, rows: dict | None, overrides: dict, prepared: dict) -> dict:
    from benchmarks.debian_docs import hand_written, holds

    counts = dict.fromkeys(("answerable", "refused", "answered", "holding", "first", "lost",
                            "unanswerable", "refused_unanswerable"), 0)
    for item in hand_written(language):
        ready = prepared.setdefault(item.id, Prepared(language, item))
        cited = ready.cited(overrides)
        if item.kind == "unanswerable":
            counts["unanswerable"] += 1
            counts["refused_unanswerable"] += cited is None
            continue
        held = cited is not None and any(holds(item, *ready.texts[c]) for c in cited)
        counts["answerable"] += 1
        counts["refused"] += cited is None
        counts["answered"] += cited is not None
        counts["holding"] += held
        if _first(item, rows, ready):
            counts["first"] += 1
            counts["lost"] += not held
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--rows", type=Path,
                        help="the run's rows; without them, search's rank 1 is found here")
    parser.add_argument("--list", action="store_true",
                        help="also list, for the first variant, each question answered wrongly, "
                             "refused, or lost at rank 1, with search's first passage and "
                             "the quote")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="replay only these variants (the first is listed by --list)")
    parser.add_argument("--languages", nargs="+", choices=["en", "ko"], default=["en", "ko"])
    parser.add_argument("--features", type=Path,
                        help="also write each question's answerability features (JSON lines)")
    args = parser.parse_args()
    setup(args.data_dir)
    rows = ({row["id"]: row for row in json.loads(args.rows.read_text())}
            if args.rows else None)
    print("| language | variant | citation precision | refused answerable | refused "
          "unanswerable | rank 1 lost |\n|---|---|---|---|---|---|")
    for language in args.languages:
        prepared: dict = {}
        for name in args.variants:
            overrides = VARIANTS[name]
            c = measure(language, rows, overrides, prepared)
            print(f"| {language} | {name} | {c['holding'] / max(1, c['answered']):.3f} | "
                  f"{c['refused'] / c['answerable']:.3f} | "
                  f"{c['refused_unanswerable'] / max(1, c['unanswerable']):.3f} | "
                  f"{c['lost']}/{c['first']} = {c['lost'] / max(1, c['first']):.3f} |",
                  flush=True)
        if args.features:
            write_features(args.features, language, rows, prepared)
        if args.list:
            list_failures(language, rows, prepared, VARIANTS[args.variants[0]])


def list_failures(language: str, rows: dict | None, prepared: dict,
                  overrides: dict | None = None) -> None:
    """Each question the answer step (default, or the variant's overrides) got wrong: the
    kind of failure (failure_kind), the question (and its respelling), search's first
    passage, and what the answer quoted; then how many questions fell in each kind."""
    from benchmarks.debian_docs import hand_written

    def short(text: str, limit: int = 160) -> str:
        text = " ".join(text.split())
        return text if len(text) <= limit else text[:limit] + "..."

    kinds: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for item in hand_written(language):
        ready = prepared[item.id]
        quoted = ready.quoted(overrides or {})
        first = item.kind != "unanswerable" and _first(item, rows, ready)
        kind, detail = failure_kind(item, ready, overrides or {})
        if not kind:
            continue
        kinds[kind] += 1
        lost[kind] += first
        print(f"\n{item.id} ({item.kind}{', search had it at rank 1' if first else ''}): "
              f"{kind} ({detail})\n  question: {item.question}"
              + (f" (searched as: {ready.query})" if ready.query != item.question else ""))
        if ready.passages:
            top = ready.passages[0]
            print(f"  search's first: {top.document} > {' > '.join(top.heading_path)}: "
                  f"{short(top.text)}")
        for sentence in quoted:
            print(f"  quoted [{sentence.n}]: {short(sentence.text)}")
    print(f"\n{language}, failures by kind (of them, search had it at rank 1): " + "; ".join(
        f"{k}: {n} ({lost[k]})" for k, n in kinds.most_common()))


def failure_kind(item, ready: Prepared, overrides: dict) -> tuple[str, str]:
    """Why the answer step failed this question, and where the evidence was (("", "")
    when it did not fail): refused by the
    answerability gate; abstained, with which of the two passages it weighed held the
    evidence (retrieval's choice: the best-ranked within source_tolerance; the sentences'
    choice: the strongest); quoted a passage without the evidence; answered an
    unanswerable question. Passages are numbered as the ask step ranked them (after the
    question's respelling, so [1] may differ from the run's rank 1)."""
    from benchmarks.debian_docs import holds

    quoted = ready.quoted(overrides)
    if item.kind == "unanswerable":
        return ("answered an unanswerable question", "") if quoted else ("", "")
    holding = [p.n for p in ready.sources
               if holds(item, ready.passages[p.n - 1].document, ready.passages[p.n - 1].text)]
    at = f"evidence at {holding}" if holding else "evidence not among the passages"
    if not ready.answerable:
        return "refused by the answerability gate", at
    if not quoted:
        # What the step would have quoted without abstaining, and the strongest passage.
        retrieval = {s.n for s in ready.quoted({**overrides, "abstain_on_disagreement": False})}
        strongest = {s.n for s in ready.quoted({**overrides, "abstain_on_disagreement": False,
                                                "source_tolerance": 1.0})}
        weighed = f"retrieval's choice {sorted(retrieval)}, sentences' {sorted(strongest)}, {at}"
        if retrieval & set(holding):
            return "abstained, retrieval's choice held the evidence", weighed
        if strongest & set(holding):
            return "abstained, the sentences' passage held the evidence", weighed
        return "abstained, neither passage weighed held the evidence", weighed
    cited = sorted({s.n for s in quoted})
    if set(cited) & set(holding):
        return "", ""
    return "quoted a passage without the evidence", f"quoted {cited}, {at}"


def write_features(path: Path, language: str, rows: dict | None, prepared: dict) -> None:
    """One JSON line per question: kind, search rank of its evidence, the features."""
    from benchmarks.debian_docs import hand_written

    with path.open("a", encoding="utf-8") as out:
        for item in hand_written(language):
            out.write(json.dumps({"id": item.id, "language": language, "kind": item.kind,
                                  "rank": (rows[item.id]["rank"] if rows is not None
                                           else 1 if prepared[item.id].first_holds else None),
                                  "features": prepared[item.id].features}) + "\n")


if __name__ == "__main__":
    main()
