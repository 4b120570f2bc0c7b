"""Search-only rerun of benchmarks/debian_docs.py's retrieval numbers, reusing an ingested
knowledge base, for studying misses without re-ingesting.

    .venv/bin/python benchmarks/debian_docs_search.py --data-dir /tmp/NAME-data \
        [--languages en ko] [--reingest] [--misses]

The first run (or --reingest, after a chunking or parsing change) builds the corpus and
ingests it with `manage.py ingest FOLDER --kb debian-docs-LANG --create` into the data
directory's SQLite database; later runs only search. Prints Recall@1/@5 per question kind
and, with --misses, each question whose evidence was not first: its rank and what ranked
first instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "platform", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def setup(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["CITEWISE_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "citewise.settings"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("CITEWISE_ENV", "development")
    os.environ.pop("DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def knowledge_base(language: str, data_dir: Path, *, reingest: bool):
    import debian_docs
    import debian_docs_corpus as corpus

    from citewise.knowledge.models import KnowledgeBase
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.services import delete_knowledge_base

    slug = f"debian-docs-{language}"
    built = corpus.build(language, data_dir / f"corpus-{language}", corpus.DEFAULT_CACHE)
    existing = KnowledgeBase.objects.filter(slug=slug).first()
    if existing and reingest:
        delete_knowledge_base(SYSTEM, existing)
        existing = None
    if existing is None:
        existing, facts = debian_docs.ingest_folder(built.folder, slug)
        print(facts, flush=True)
    return existing, built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--languages", nargs="+", default=["en", "ko"], choices=["en", "ko"])
    parser.add_argument("--reingest", action="store_true")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    setup(args.data_dir)
    import debian_docs

    for language in args.languages:
        kb, built = knowledge_base(language, args.data_dir, reingest=args.reingest)
        items = debian_docs.headings(built) + debian_docs.hand_written(language)
        items = [i for i in items if i.kind != "unanswerable"]
        rows, scores = debian_docs.search_all(kb, items)
        for kind, s in scores.items():
            print(f"{language} {kind:10s} R@1 {s['recall_at_1']:.3f} R@5 {s['recall_at_5']:.3f}"
                  f" MRR {s['mrr']:.3f}")
        print(language, debian_docs.failure_kinds(rows))
        if args.misses:
            for row in rows:
                if row.rank != 1:
                    print(f"  {row.id} rank={row.rank} gold={row.document} q={row.question!r}")
                    for ranked in row.ranked[:3]:
                        print(f"      {ranked}")


if __name__ == "__main__":
    main()
