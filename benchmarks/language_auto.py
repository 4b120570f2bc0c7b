"""A knowledge base created without a language, on a folder of real documents: what
"auto" decides, against the English model every such knowledge base got before.

    .venv/bin/python benchmarks/language_auto.py DIR [--limit 60] [--decide-only]

The first --limit HTML/Markdown/text/PDF files under DIR (sorted by path) go through the
product path (add_document, then the pipeline's ingest) into two knowledge bases: "auto"
(the language decided from the documents) and "en" (the English model, what "auto"
meant before). Reported for each: the decision, passage length in characters (median
and 90th percentile), and Recall@1/@5 of each document's title asked as the question
(documents with a title of their own, once per distinct title): with hybrid search and
with the vectors alone (the dense list). --decide-only parses the files and prints the
decision alone (no database, no embedding).
"""

from __future__ import annotations

import argparse
import sys
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.answer_quality import percentile, setup_django

SUFFIXES = {".html", ".htm", ".md", ".txt", ".pdf"}


def fill(slug: str, language: str, files: list[Path]):
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.pipeline import ingest
    from citewise.knowledge.services import add_document, create_knowledge_base

    kb = create_knowledge_base(SYSTEM, name=slug, slug=slug, language=language)
    for path in files:
        added = add_document(SYSTEM, kb, BytesIO(path.read_bytes()), original_name=path.name,
                             enqueue=False)
        ingest(added.document.pk)
    kb.refresh_from_db()
    return kb


def title_questions(kb) -> dict[str, int]:
    """Distinct document titles (not file names) -> the document they name."""
    counts: dict[str, list[int]] = {}
    for pk, title, name in kb.documents.filter(status="indexed").values_list(
            "pk", "title", "original_name"):
        if title and title != name:
            counts.setdefault(title.strip(), []).append(pk)
    return {title: pks[0] for title, pks in counts.items() if len(pks) == 1}


def dense_documents(kb, question: str, k: int) -> list[int]:
    from citewise.knowledge import indexing
    from citewise.knowledge.models import Chunk

    query = indexing.embedder_for(kb).embed_query(question)
    ids, _ = indexing.vector_store().search(kb.index_key, query, k * 4,
                                            model=kb.embedding_model,
                                            source=indexing.embedding_source(kb))
    owner = dict(Chunk.objects.filter(pk__in=ids.tolist()).values_list("pk", "document_id"))
    return _distinct([owner[i] for i in ids.tolist() if i in owner])[:k]


def hybrid_documents(kb, question: str, k: int) -> list[int]:
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.search import search

    passages = search(SYSTEM, question, knowledge_bases=[kb], k=k * 4)
    return _distinct([p.document_id for p in passages])[:k]


def _distinct(ids: list[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def recall(kb, questions: dict[str, int], rank, k: int) -> float:
    hits = sum(gold in rank(kb, question, k) for question, gold in questions.items())
    return hits / len(questions) if questions else float("nan")


def report(kb) -> None:
    from citewise.knowledge import languages

    lengths = [len(text) for text in kb.chunks.values_list("text", flat=True)]
    questions = title_questions(kb)
    print(f"## {kb.slug}: {languages.summary(kb)}")
    print(f"passages {len(lengths)}, characters median {percentile(lengths, 50):.0f}, "
          f"p90 {percentile(lengths, 90):.0f}; {len(questions)} title questions")
    for name, rank in (("hybrid", hybrid_documents), ("dense", dense_documents)):
        print(f"  {name}: Recall@1 {recall(kb, questions, rank, 1):.3f}, "
              f"Recall@5 {recall(kb, questions, rank, 5):.3f}")


def decide_only(files: list[Path]) -> None:
    from ingestion.errors import IngestionError
    from ingestion.parse import parse_document
    from textproc.language import LanguageProfile, decide, profile_of

    total = LanguageProfile()
    for path in files:
        try:
            parsed = parse_document(path, path.name)
        except IngestionError:
            continue
        total += profile_of(block.text for block in parsed.blocks if block.kind != "code")
    decision = decide(total)
    print(decision.describe() if decision else "no text identified")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--decide-only", action="store_true")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    files = files[:args.limit]
    if args.decide_only:
        decide_only(files)
        return
    setup_django()
    for slug, language in (("auto", "auto"), ("en", "en")):
        report(fill(slug, language, files))


if __name__ == "__main__":
    main()
