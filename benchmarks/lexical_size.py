"""Bytes a passage takes in the BM25 (lexical) index, for sizing it past one machine
(docs/scaling.md: each web process holds the matrices of the knowledge bases it searches).

    .venv/bin/python benchmarks/lexical_size.py

Builds the index of each evaluation set's passages (python-faq: English, korquad: Korean
paragraphs) with the product's LexicalStore in a temporary folder and reports the
matrix's entries per passage, the file's bytes per passage and the vocabulary.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.retrieval_quality import korquad, python_faq
from retrieval.lexical import LexicalStore


def measure(name: str, texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = LexicalStore(folder)
        store.rebuild("kb", list(range(len(texts))), texts)
        (index_file,) = Path(folder, "kb").glob("lexical-*.npz")
        with np.load(index_file) as matrix:
            entries, terms = len(matrix["data"]), len(matrix["terms"])
            entry_bytes = matrix["indices"].itemsize + matrix["data"].itemsize
        size = index_file.stat().st_size
    print(f"| {name} | {len(texts):,} | {entries / len(texts):.1f} | {entry_bytes} | "
          f"{entries * entry_bytes / len(texts):,.0f} | {size / len(texts):,.0f} | {terms:,} |")


def main() -> None:
    print("| set | passages | entries/passage | bytes/entry | matrix bytes/passage | "
          "file bytes/passage | terms |")
    print("|---|---|---|---|---|---|---|")
    for corpus in (python_faq(), korquad()):
        measure(corpus.name, list(corpus.texts))


if __name__ == "__main__":
    main()
