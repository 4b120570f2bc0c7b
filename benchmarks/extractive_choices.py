"""Which passage and sentences the extractive backend quotes: its settings compared on the
same retrieved passages of the shared evaluation sets.

    .venv/bin/python benchmarks/extractive_choices.py [--faq-questions 106]
        [--korquad-questions 300] [--korquad-paragraphs 600] [--no-write]

Knowledge bases are built as in benchmarks/answer_quality.py (add_document + ingest). For
every answerable question the ask service's search runs once (top CITEWISE_ASK_TOP_K);
each variant of ExtractiveConfig then selects its quotes from those same passages, so
the variants differ only in selection. Scored with answer_quality's definitions:
citation precision (cited chunk holds the support), correct (answer holds the gold
answer / overlaps the section, of all questions), answered (share the backend did not
decline) and rank 1 lost (of the questions whose first retrieved passage holds the
support, the share where no quoted passage does: declined or quoted elsewhere). No
answerability threshold: every question reaches the backend.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "platform", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import answer_quality as aq  # noqa: E402

from inference.backends.extractive import ExtractiveConfig  # noqa: E402

CURRENT = ExtractiveConfig()
# Confidence bounds below any real lead: the semantic weight is always full.
ALWAYS_SEMANTIC = {"semantic_noise_lead": -2.0, "semantic_confident_lead": -1.0}
VARIANTS = {
    "current defaults": CURRENT,
    "passage strength without term coverage (coverage weight 0)": replace(
        CURRENT, coverage_weight=0.0),
    "coverage weight 0.2": replace(CURRENT, coverage_weight=0.2),
    "coverage weight 0.5": replace(CURRENT, coverage_weight=0.5),
    "coverage weight 1.0": replace(CURRENT, coverage_weight=1.0),
    "semantic weight always full": replace(CURRENT, **ALWAYS_SEMANTIC),
    "source tolerance 0.6": replace(CURRENT, source_tolerance=0.6),
    "source tolerance 0.8": replace(CURRENT, source_tolerance=0.8),
    "relative cutoff 0.7": replace(CURRENT, relative_cutoff=0.7),
    "no semantic part": replace(CURRENT, semantic_weight=0.0),
    "answers even when retrieval and the best sentence disagree": replace(
        CURRENT, abstain_on_disagreement=False),
    "previous defaults (tolerance 0.6, answers on disagreement)": replace(
        CURRENT, source_tolerance=0.6, abstain_on_disagreement=False),
}


def collect(questions: dict, kbs: dict) -> list[tuple]:
    from django.conf import settings

    from citewise.chat.services import _source
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.search import search

    items = []
    for name, qs in questions.items():
        for question in qs:
            passages = search(SYSTEM, question.text, knowledge_bases=[kbs[name]],
                              k=settings.ASK_TOP_K)
            items.append((question, kbs[name],
                          [_source(n, p) for n, p in enumerate(passages, start=1)]))
    return items


def score(items: list[tuple], config: ExtractiveConfig) -> dict[str, dict]:
    from citewise.chat.backends import extractive_backend

    out: dict[str, dict] = {}
    for name in ("python-faq", "korquad"):
        cited = good = right = total = answered = first = lost = 0
        for question, kb, sources in items:
            if question.set != name:
                continue
            total += 1
            base = extractive_backend(kb)
            backend = type(base)(embed_query=base.embed_query,
                                 embed_passages=base.embed_passages, config=config)
            chosen = backend.select(question.text, sources)
            by_n = {s.n: s for s in sources}
            numbers = sorted({s.n for s in chosen})
            answered += bool(chosen)
            cited += len(numbers)
            good += sum(aq.supports(question, by_n[n].text, by_n[n].document) for n in numbers)
            right += bool(chosen) and aq.correct(
                question, " ".join(f"{s.text} [{s.n}]" for s in chosen))
            # Retrieval's first passage holds the support, yet no quoted passage does.
            if sources and aq.supports(question, sources[0].text, sources[0].document):
                first += 1
                lost += not any(aq.supports(question, by_n[n].text, by_n[n].document)
                                for n in numbers)
        out[name] = {"questions": total, "precision": round(good / max(cited, 1), 3),
                     "correct": round(right / max(total, 1), 3),
                     "answered": round(answered / max(total, 1), 3),
                     "rank1_lost": round(lost / max(first, 1), 3), "rank1": first}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faq-questions", type=int, default=106)
    parser.add_argument("--korquad-questions", type=int, default=300)
    parser.add_argument("--korquad-paragraphs", type=int, default=600)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    command = aq.command_line("benchmarks/extractive_choices.py")
    started = time.perf_counter()
    aq.setup_django()
    kbs, questions, facts = aq.build_knowledge_bases(
        args.faq_questions, args.korquad_questions, args.korquad_paragraphs,
        log=aq.log)
    items = collect(questions, kbs)
    rows = ["| variant | python-faq precision / correct / answered / rank 1 lost "
            "| korquad precision / correct / answered / rank 1 lost |", "|---|---|---|"]
    for label, config in VARIANTS.items():
        result = score(items, config)
        faq, kq = result["python-faq"], result["korquad"]
        rows.append(f"| {label} | {faq['precision']} / {faq['correct']} / {faq['answered']} "
                    f"/ {faq['rank1_lost']} ({faq['questions']} q) | {kq['precision']} / "
                    f"{kq['correct']} / {kq['answered']} / {kq['rank1_lost']} "
                    f"({kq['questions']} q) |")
        aq.log(rows[-1])
    report = "\n".join([
        "### Extractive quoting: settings compared", "",
        f"Command: `{command}` ({(time.perf_counter() - started) / 60:.1f} min, "
        f"{aq.machine_facts()}). Embedding models: "
        + ", ".join(f"{k} {v['model']}" for k, v in facts.items())
        + ". Same retrieved passages for every variant; every question reaches the backend "
        "(no answerability threshold); answered: the share it did not decline.", "", *rows])
    print(report)
    if not args.no_write:
        aq.write_section("extractive_choices", report)


if __name__ == "__main__":
    main()
