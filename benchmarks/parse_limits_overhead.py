"""What the per-document parsing limits cost: parse_document in this process against
parse_bounded (a fresh child process under RLIMIT_AS and a deadline), per file.

    .venv/bin/python benchmarks/parse_limits_overhead.py FILE_OR_DIR... [--repeat 3]

Prints, per file and in total, the median seconds of each way and the difference (the
child's start, its imports, and passing the parsed document back).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingestion.bounded import parse_bounded
from ingestion.parse import parse_document


def files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix != ".md")
                     if path.is_dir() else [path])
    return found


def median_seconds(parse: Callable[[Path, str], object], path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        parse(path, path.name)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    totals = [0.0, 0.0]
    print(f"{'file':40} {'in-process s':>12} {'bounded s':>10} {'added s':>8}")
    for path in files(args.paths):
        inline = median_seconds(parse_document, path, args.repeat)
        bounded = median_seconds(parse_bounded, path, args.repeat)
        totals = [totals[0] + inline, totals[1] + bounded]
        print(f"{path.name[:40]:40} {inline:12.3f} {bounded:10.3f} {bounded - inline:8.3f}")
    print(f"{'total':40} {totals[0]:12.3f} {totals[1]:10.3f} {totals[1] - totals[0]:8.3f}")


if __name__ == "__main__":
    main()
