"""Sentence boundaries of textproc.sentences against an earlier tree's splitters.

    .venv/bin/python benchmarks/sentence_splitters.py --old-tree DIR [--examples 5]

DIR is an export of a commit that still had its own splitters (`git archive 6f3e052 |
tar -x -C DIR`): the chunker's (ingestion/text.py) and the verifier's (inference/text.py).
Texts: the 964 KorQuAD dev paragraphs, and the prose blocks of the nine Python FAQ pages
as the HTML parser reads them. Prints, per set, the sentence counts, how many texts each
old splitter cuts differently from the new one, and how many the two old ones cut
differently from each other (where a quoted sentence could not be one the chunker kept).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.eval_sets import EVAL
from ingestion.parse import parse_document
from textproc.sentences import split_sentences

PROSE = ("paragraph", "list")


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def korquad_paragraphs() -> list[str]:
    data = json.loads((EVAL / "korquad" / "KorQuAD_v1.0_dev.json").read_text("utf-8"))
    return [p["context"] for article in data["data"] for p in article["paragraphs"]]


def faq_blocks() -> list[str]:
    pages = sorted((EVAL / "python-faq" / "docs").glob("*.html"))
    return [block.text for page in pages for block in parse_document(page, page.name).blocks
            if block.kind in PROSE]


def compare(texts: list[str], old: dict[str, callable], examples: int) -> dict:
    counts = {"new": 0, **dict.fromkeys(old, 0)}
    differ = {**dict.fromkeys(old, 0), "old splitters between them": 0}
    shown = []
    for text in texts:
        new = split_sentences(text)
        cuts = {name: split(text) for name, split in old.items()}
        counts["new"] += len(new)
        for name, sentences in cuts.items():
            counts[name] += len(sentences)
            differ[name] += sentences != new
            if sentences != new and len(shown) < examples:
                shown.append({"old": name, "only_old": sorted(set(sentences) - set(new)),
                              "only_new": sorted(set(new) - set(sentences))})
        first, second = cuts.values()
        differ["old splitters between them"] += first != second
    return {"texts": len(texts), "sentences": counts, "texts cut differently": differ,
            "examples": shown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-tree", type=Path, required=True)
    parser.add_argument("--examples", type=int, default=5)
    args = parser.parse_args()
    chunker = load_module("old_chunker_text", args.old_tree / "ingestion" / "text.py")
    verifier = load_module("old_verifier_text", args.old_tree / "inference" / "text.py")
    old = {"old chunker": chunker.split_sentences,
           "old verifier": lambda t: [s.text for s in verifier.split_sentences(t)]}
    for name, texts in (("korquad", korquad_paragraphs()), ("python-faq", faq_blocks())):
        print(name, json.dumps(compare(texts, old, args.examples), ensure_ascii=False,
                               indent=1))


if __name__ == "__main__":
    main()
