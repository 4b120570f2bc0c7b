"""Time and peak memory of reading one large Excel workbook with the .xlsx parser.

    .venv/bin/python benchmarks/xlsx_memory.py [--rows 200000] [--source DIR]

Builds a workbook of `--rows` rows x 5 columns (write-only mode, in a temporary folder)
and parses it in a fresh child process, which reports its own peak resident memory
(Linux: /proc/self/status).
`--source DIR` puts another checkout first on the child's path, to compare a change with
what it replaces (e.g. `--source /path/to/main`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Peak memory from VmHWM, not ru_maxrss: the latter keeps the high-water mark of the
# parent process that built the workbook across fork and exec.
CHILD = """
import json, re, sys, time
from pathlib import Path
from ingestion.parsers.spreadsheet import parse_xlsx
began = time.perf_counter()
blocks = len(parse_xlsx(Path(sys.argv[1])).blocks)
status = Path("/proc/self/status").read_text()
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
print(json.dumps({"seconds": round(time.perf_counter() - began, 1), "blocks": blocks,
                  "peak_mb": peak_kb // 1024}))
"""


def build(path: Path, rows: int) -> None:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Items")
    sheet.append(["Item", "Number", "Price", "Category", "Note"])
    for i in range(rows):
        sheet.append([f"item {i}", i, i * 1.5, f"category {i % 10}", "note text here"])
    workbook.save(str(path))


def measure(path: Path, source: Path) -> dict:
    env_path = f"{source}{':' + str(ROOT) if source != ROOT else ''}"
    # Run from the workbook's folder: `python -c` puts the working directory first on
    # the path, where a checkout would win over `source`.
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                          text=True, check=True, cwd=path.parent,
                          env={**os.environ, "PYTHONPATH": env_path})
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--source", type=Path, default=ROOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.xlsx"
        build(path, args.rows)
        size_mb = round(path.stat().st_size / 1024 / 1024, 1)
        result = measure(path, args.source.resolve())
    print(json.dumps({"rows": args.rows, "file_mb": size_mb, **result}))


if __name__ == "__main__":
    main()
