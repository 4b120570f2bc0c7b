"""How long `manage.py backup` and `manage.py restore` take, and whether index files are
worth backing up: their size against the backup's, and copying them against rebuilding
them from the stored embeddings.

    .venv/bin/python benchmarks/backup_restore.py [--copies 1] [--json] [--no-write]

A fresh instance (a new data directory; SQLite, or DATABASE_URL when set and SQLite
is not wanted) gets the same knowledge base as benchmarks/api_load.py (Citewise's own
docs/, ingested synchronously; with --copies N, N knowledge bases of it, to see how the
times grow). Then, each as its own `manage.py` process, timed from outside:
backup; restore into a second new data directory (and, on PostgreSQL, the same
database, with --force); `rebuild_indexes` alone; and, for comparison, copying the
index folder (shutil.copytree).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.api_load import DEMO, manage, prepare, site_env  # noqa: E402


def timed(env: dict[str, str], *args: str) -> float:
    began = time.perf_counter()
    manage(env, *args)
    return time.perf_counter() - began


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(copies: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="citewise-backup-bench-"))
    try:
        source, target = work / "source", work / "target"
        env = site_env(source)
        prepare(env)
        docs = sorted(str(p) for p in (ROOT / "docs").glob("*.md"))
        for n in range(1, copies):
            manage(env, "ingest", *docs, "--kb", f"{DEMO}-{n}", "--create", "--sync")
        backup = work / "citewise.backup"
        backup_s = timed(env, "backup", str(backup))
        indexes = source / "indexes"
        began = time.perf_counter()
        shutil.copytree(indexes, work / "indexes-copy")
        copy_s = time.perf_counter() - began
        rebuild_s = timed(env, "rebuild_indexes")
        target_env = site_env(target)
        restore_args = ["restore", str(backup)]
        if "DATABASE_URL" in env:  # the same database: replaced on purpose
            restore_args.append("--force")
        restore_s = timed(target_env, *restore_args)
        with tarfile.open(backup) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
        return {"knowledge_bases": copies, "counts": manifest["counts"],
                "backup_mb": round(backup.stat().st_size / 1e6, 2),
                "indexes_mb": round(folder_bytes(indexes) / 1e6, 2),
                "backup_s": round(backup_s, 1), "restore_s": round(restore_s, 1),
                "rebuild_indexes_s": round(rebuild_s, 1),
                "copy_indexes_s": round(copy_s, 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_results(result: dict, command: str) -> None:
    counts = result["counts"]
    lines = [
        "", f"## Backup and restore ({time.strftime('%Y-%m-%d')})", "",
        f"`{command}`: {result['knowledge_bases']} knowledge base(s) of docs/, "
        f"{counts['documents']} documents, {counts['chunks']} chunks. Each time is a whole "
        "`manage.py` process (Python and Django start included; restore also migrates "
        "and loads the index libraries).", "",
        "| backup | restore (rebuilds indexes) | rebuild_indexes alone | copy index files "
        "| backup size | index files |",
        "|---|---|---|---|---|---|",
        f"| {result['backup_s']} s | {result['restore_s']} s | {result['rebuild_indexes_s']} s "
        f"| {result['copy_indexes_s']} s | {result['backup_mb']} MB | {result['indexes_mb']} MB |",
        ""]
    with (ROOT / "benchmarks" / "RESULTS.md").open("a") as out:
        out.write("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = run(args.copies)
    print(json.dumps(result, indent=2) if args.json else result)
    if not args.no_write:
        write_results(result, "python " + " ".join(["benchmarks/backup_restore.py",
                                                     *sys.argv[1:]]))


if __name__ == "__main__":
    main()
