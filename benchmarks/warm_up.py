"""The first search of a new web process, with and without the start-up warm-up
(citewise.knowledge.warmup): each run is a fresh process on an existing data directory.

    CITEWISE_DATA_DIR=DIR .venv/bin/python benchmarks/warm_up.py --kb SLUG "QUESTION" [--kb ...]

Prints, per run, the warm-up's own seconds (run "warm") and, per knowledge base, the first
and second search's seconds (hybrid search through the permission service, k=5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, os, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/platform"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")
import django; django.setup()
from citewise.knowledge.models import KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.search import search
result = {}
if sys.argv[2] == "warm":
    from citewise.knowledge.warmup import warm_up
    result["warm_up_s"] = round(warm_up(), 2)
for slug, question in json.loads(sys.argv[3]):
    kb = KnowledgeBase.objects.get(slug=slug)
    times = []
    for _ in range(2):
        began = time.perf_counter()
        search(SYSTEM, question, knowledge_bases=[kb], k=5)
        times.append(round(time.perf_counter() - began, 3))
    result[slug] = times
print(json.dumps(result))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", nargs=2, action="append", required=True,
                        metavar=("SLUG", "QUESTION"))
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    print("| run | warm-up s | " + " | ".join(f"{slug}: first / second search s"
                                              for slug, _ in args.kb) + " |")
    print("|---|---|" + "---|" * len(args.kb))
    for run in ("cold", "warm"):
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", _CHILD, str(ROOT), run,
                              json.dumps(args.kb)], env=env, check=True, capture_output=True,
                             text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        cells = [" / ".join(f"{s:.2f}" for s in result[slug]) for slug, _ in args.kb]
        print(f"| {run} | {result.get('warm_up_s', '-')} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
