"""Retrieval and answer quality on real documents: Debian documentation, English and Korean.

    .venv/bin/python benchmarks/debian_docs.py [--languages en ko] [--headings 60]
        [--cache DIR] [--json] [--no-write] [--rows FILE]

One command prints every number the issue's gates name. For each language it builds the
corpus (benchmarks/debian_docs_corpus.py: generated HTML manuals with their navigation, a
PDF, a DOCX, an XLSX), creates a knowledge base exactly as a new user would, with
`manage.py ingest FOLDER --kb SLUG --create` and no language flag (--sync, as there is no
worker here), and asks through the real services:

- headings: section headings of the source HTML pages asked as questions (generated at
  run time; headings shared by several sections, like "Navigation", and sections under 20
  words are left out). Hit: a passage of the page that shares an 8-word shingle with the
  section's text.
- paraphrase / typo: questions written by hand as employees ask them (typo: a misspelled
  paraphrase), from tests/eval/data/debian-docs-{en,ko}.jsonl, each with its gold
  document and an evidence quote. Hit: a passage of that document that holds the quote
  (or shares an 8-word shingle with it), or one of the sentences its `also` accepts (of
  the same document, or named with another document of the corpus).
- unanswerable: plausible questions the documents do not answer.

Search (citewise.knowledge.search) gives Recall@1/@5, MRR (benchmarks/retrieval_quality's
score); ask (citewise.chat.services, extractive backend) gives citation precision (cited
passages that hold the evidence), refusals, and "search had it at rank 1 but ask refused
or cited no passage holding the evidence".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "platform", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import debian_docs_corpus as corpus  # noqa: E402
from answer_quality import (  # noqa: E402
    command_line,
    log,
    machine_facts,
    setup_django,
    shingles,
    write_section,
)
from retrieval_quality import Corpus, score  # noqa: E402

DATA = ROOT / "tests" / "eval" / "data"
HEADINGS = 60
MIN_SECTION_WORDS = 20
GATES = {"headings Recall@1": 0.85, "headings Recall@5": 0.97, "paraphrase Recall@5": 0.90,
         "citation precision": 0.95, "refusal of unanswerable": 0.9}


# ----- questions --------------------------------------------------------------------------

@dataclass
class Item:
    id: str
    kind: str  # heading | paraphrase | typo | unanswerable
    question: str
    document: str = ""
    evidence: str = ""
    # Other sentences that answer the question as fully as `evidence` (a passage quoting
    # one of them cites rightly): a string is a sentence of `document`; an object
    # {"document": NAME, "evidence": SENTENCE} is one of another document of the corpus
    # (manuals overlap: two may answer the same question).
    also: tuple[str | dict[str, str], ...] = ()

    def accepted(self) -> list[tuple[str, str]]:
        """(document, sentence) pairs a cited passage may hold, the gold evidence first."""
        return [(self.document, self.evidence)] + [
            (self.document, a) if isinstance(a, str) else (a["document"], a["evidence"])
            for a in self.also]


def hand_written(language: str) -> list[Item]:
    path = DATA / f"debian-docs-{language}.jsonl"
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    return [Item(r["id"], r["kind"], r["question"], r.get("document", ""),
                 r.get("evidence", ""), tuple(r.get("also", ()))) for r in rows]


def headings(built: corpus.Built, count: int = HEADINGS) -> list[Item]:
    """Up to `count` section headings of the source HTML pages, spread over the corpus.
    A heading a browser does not show is not asked: the next one in the corpus is, so the
    other picks stay those of earlier runs."""
    found: list[Item] = []
    hidden: set[int] = set()  # id() of the items whose heading a browser hides
    for name, path in sorted(built.sources.items()):
        for heading, body, shown in corpus.sections(path):
            if len(body.split()) >= MIN_SECTION_WORDS and "Table of Contents" not in body:
                found.append(Item(f"{built.language}-h", "heading", heading, name, body))
                if not shown:
                    hidden.add(id(found[-1]))
    seen: dict[str, int] = {}
    for item in found:
        seen[item.question.casefold()] = seen.get(item.question.casefold(), 0) + 1
    unique = [i for i in found if seen[i.question.casefold()] == 1 and len(i.question) > 3]
    picked: list[Item] = []
    for start in range(0, len(unique), max(1, len(unique) // count)):
        shown = (i for i in unique[start:] if id(i) not in hidden and i not in picked)
        if (item := next(shown, None)) is not None:
            picked.append(item)
    picked = picked[:count]
    for n, item in enumerate(picked, 1):
        item.id = f"{built.language}-h{n:02d}"
    return picked


HANGUL = re.compile(r"[가-힣]")


def _words(text: str, *, spaced: bool = True) -> str:
    """The words, lower-cased, without punctuation (readers differ on quotes and dashes).
    spaced=False also drops the spaces: Korean spacing varies with inline markup ("I 를"
    in one reader, "I를" in another), while English words run together only when a PDF
    reader lost the spaces, which must count as a miss."""
    return (" " if spaced else "").join(re.findall(r"\w+", text.casefold()))


# An ordered list item's number as a browser shows it ("2. Run ..."): our parser writes
# it, BeautifulSoup's text of the page (the reader the evidence comes from) does not.
# Left out of both sides of a comparison, so a passage is matched on its words alone; a
# number followed by anything but a space ("3.14", "7.2", "2.0") is a word.
_ITEM_NUMBER = re.compile(r"(?<!\S)\d{1,3}\.(?=\s|$)")


def _unnumbered(text: str) -> str:
    return _ITEM_NUMBER.sub(" ", text)


def contains(text: str, evidence: str) -> bool:
    spaced = not HANGUL.search(evidence)
    text, evidence = _unnumbered(text), _unnumbered(evidence)
    return _words(evidence, spaced=spaced) in _words(text, spaced=spaced)


def holds(item: Item, document: str, text: str) -> bool:
    """Does this passage of `document` hold the item's evidence (or an accepted sentence of
    that same document)?"""
    return any(document == where and (contains(text, evidence) or bool(
        shingles(_unnumbered(text)) & shingles(_unnumbered(evidence))))
        for where, evidence in item.accepted())


# ----- evidence is in the document (what a person reads, not what our parsers make) -----

def document_text(built: corpus.Built, name: str) -> str:
    """The document's text read with plain third-party readers (the source HTML for HTML
    pages and for PDFs cut from a book whose HTML is at hand)."""
    path = built.folder / name
    if name in built.sources:
        return corpus.soup(built.sources[name]).get_text(" ")
    if path.suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
        return " ".join([p.text for p in document.paragraphs] + cells)
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(str(path), read_only=True)
        return " ".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(
            values_only=True) for v in row if v is not None)
    import pypdf

    return " ".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)


def missing_evidence(built: corpus.Built, items: list[Item]) -> list[str]:
    """Ids of hand-written items with an accepted sentence (the evidence, an `also`) that
    is not in the document it is named with (a document not in the corpus counts as
    missing)."""
    texts: dict[str, str] = {}
    missing = []
    for item in items:
        if item.kind in ("heading", "unanswerable"):
            continue
        for document, evidence in item.accepted():
            if document not in texts:
                known = document in built.sources or (built.folder / document).is_file()
                texts[document] = document_text(built, document) if known else ""
            if not contains(texts[document], evidence):
                missing.append(item.id)
                break
    return missing


# ----- the product path -------------------------------------------------------------------

@dataclass
class KnowledgeBaseFacts:
    slug: str
    documents: int
    failed: list[dict]
    chunks: int
    embedding_model: str
    language: str
    chunk_chars_median: int
    ingest_s: float


def ingest_folder(folder: Path, slug: str) -> tuple[object, KnowledgeBaseFacts]:
    """`manage.py ingest FOLDER --kb SLUG --create` and nothing else (--sync: no worker).
    The command exits 1 when a file fails; the failures are reported, not raised."""
    from django.core.management import call_command

    from citewise.knowledge.models import Chunk, KnowledgeBase

    out = StringIO()
    started = time.perf_counter()
    with contextlib.suppress(SystemExit):  # some files failed: listed in the summary
        call_command("ingest", str(folder), kb=slug, create=True, sync=True, json=True,
                     stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    kb = KnowledgeBase.objects.get(slug=slug)
    lengths = sorted(len(t) for t in Chunk.objects.filter(knowledge_base=kb)
                     .values_list("text", flat=True))
    return kb, KnowledgeBaseFacts(
        slug, summary["indexed"], summary["failed"], len(lengths), kb.embedding_model,
        kb.language, lengths[len(lengths) // 2] if lengths else 0,
        round(time.perf_counter() - started, 1))


@dataclass
class Row:
    id: str
    kind: str
    question: str
    document: str
    ranked: list[str] = field(default_factory=list)  # "document: heading path" of top 5
    ranked_ids: list[int] = field(default_factory=list)  # chunk ids of the top 10
    rank: int | None = None  # 1-based rank of the first passage holding the evidence
    first_is_navigation: bool = False  # rank 1 is a passage that is mostly links/TOC
    asked: bool = False
    refused: bool | None = None
    citations: int = 0
    citations_holding: int = 0
    cited_ids: list[int] = field(default_factory=list)
    answer: str = ""


def _chunks(kb) -> dict[int, tuple[str, str]]:
    from citewise.knowledge.models import Chunk

    return {pk: (name, text) for pk, name, text in Chunk.objects.filter(knowledge_base=kb)
            .values_list("pk", "document__original_name", "text")}


def search_all(kb, items: list[Item]) -> tuple[list[Row], dict]:
    """Search every question; rows plus retrieval_quality's scores per kind."""
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.search import search

    chunks = _chunks(kb)
    rows, rankings = [], []
    for item in items:
        passages = search(SYSTEM, item.question, knowledge_bases=[kb], k=10)
        ranking = [p.chunk_id for p in passages]
        hits = [holds(item, *chunks.get(cid, ("", ""))) for cid in ranking]
        row = Row(item.id, item.kind, item.question, item.document,
                  [f"{p.document}: {' > '.join(p.heading_path)}" for p in passages[:5]],
                  ranking, next((n for n, h in enumerate(hits, 1) if h), None))
        row.first_is_navigation = bool(passages) and looks_like_navigation(passages[0].text)
        rows.append(row)
        rankings.append(ranking)
    scores = {}
    for kind in ("heading", "paraphrase", "typo"):
        picked = [n for n, item in enumerate(items) if item.kind == kind]
        if not picked:
            continue
        mine = [items[n] for n in picked]
        relevant = [sum(holds(i, *chunk) for chunk in chunks.values()) or 1 for i in mine]
        subset = Corpus(kind, [], [i.question for i in mine],
                        lambda q, cid, mine=mine: holds(mine[q], *chunks.get(cid, ("", ""))),
                        relevant)
        scores[kind] = asdict(score(subset, [rankings[n] for n in picked]))
    return rows, scores


def looks_like_navigation(text: str) -> bool:
    """A passage that reads like a table of contents or a prev/next bar: most of its lines
    are short and hold no sentence. (A rough sign, for the failure analysis only.)"""
    lines = [line for line in text.splitlines() if line.strip()]
    short = [line for line in lines if len(line.split()) <= 8 and not line.rstrip().endswith(
        (".", "다", "요", "?", ":"))]
    return len(lines) >= 4 and len(short) / len(lines) > 0.7


def ask_all(kb, items: list[Item], rows: list[Row]) -> None:
    """Ask every paraphrase, typo and unanswerable question; fill the rows' answer facts."""
    from citewise.chat.services import AskResult, ask
    from citewise.knowledge.models import Chunk
    from citewise.knowledge.permissions import SYSTEM

    for item, row in zip(items, rows, strict=True):
        if item.kind == "heading":
            continue
        events = list(ask(SYSTEM, item.question, knowledge_bases=[kb]))
        (result,) = [e for e in events if isinstance(e, AskResult)]
        row.asked, row.answer = True, result.answer
        row.refused = result.not_found or not result.citations
        if row.refused or item.kind == "unanswerable":
            continue
        cited = Chunk.objects.filter(pk__in=[c.chunk_id for c in result.citations])
        texts = {c.pk: (c.document.original_name, c.text) for c in cited.select_related(
            "document")}
        row.citations = len(result.citations)
        row.cited_ids = [c.chunk_id for c in result.citations]
        row.citations_holding = sum(holds(item, *texts.get(c.chunk_id, ("", "")))
                                    for c in result.citations)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 3) if whole else None


def answer_summary(rows: list[Row]) -> dict:
    answerable = [r for r in rows if r.asked and r.kind in ("paraphrase", "typo")]
    answered = [r for r in answerable if not r.refused]
    unanswerable = [r for r in rows if r.kind == "unanswerable"]
    first = [r for r in answerable if r.rank == 1]
    lost = [r for r in first if r.refused or not r.citations_holding]
    return {
        "citation_precision": _ratio(sum(r.citations_holding for r in answered),
                                     sum(r.citations for r in answered)),
        "answered_with_evidence": _ratio(sum(bool(r.citations_holding) for r in answerable),
                                         len(answerable)),
        "refuse_answerable": _ratio(sum(bool(r.refused) for r in answerable), len(answerable)),
        "refuse_unanswerable": _ratio(sum(bool(r.refused) for r in unanswerable),
                                      len(unanswerable)),
        "rank1_but_ask_lost_it": _ratio(len(lost), len(first)),
        "rank1_but_ask_lost_it_ids": [r.id for r in lost],
    }


@dataclass
class LanguageResult:
    language: str
    knowledge_base: KnowledgeBaseFacts
    counts: dict[str, int]
    retrieval: dict[str, dict]
    answers: dict
    rows: list[Row]
    failures: dict[str, int]

    def gates(self) -> dict[str, tuple[float | None, float]]:
        r, a = self.retrieval, self.answers
        return {"headings Recall@1": (r["heading"]["recall_at_1"], GATES["headings Recall@1"]),
                "headings Recall@5": (r["heading"]["recall_at_5"], GATES["headings Recall@5"]),
                "paraphrase Recall@5": (r["paraphrase"]["recall_at_5"],
                                        GATES["paraphrase Recall@5"]),
                "citation precision": (a["citation_precision"], GATES["citation precision"]),
                "refusal of unanswerable": (a["refuse_unanswerable"],
                                            GATES["refusal of unanswerable"])}


def failure_kinds(rows: list[Row]) -> dict[str, int]:
    """Answerable questions whose evidence is not first, by what came first instead."""
    missed = [r for r in rows if r.kind != "unanswerable" and r.rank != 1]
    return {"missed at rank 1": len(missed),
            "rank 1 is navigation or a table of contents": sum(
                r.first_is_navigation for r in missed),
            "rank 1 is another document": sum(
                bool(r.ranked) and not r.ranked[0].startswith(f"{r.document}:") for r in missed),
            "evidence not in the top 10": sum(r.rank is None for r in missed)}


def evaluate(language: str, folder: Path, *, headings_count: int = HEADINGS,
             cache: Path = corpus.DEFAULT_CACHE, log=log) -> LanguageResult:
    """Build, ingest, search and ask for one language (Django must be set up)."""
    built = corpus.build(language, folder, cache)
    items = headings(built, headings_count) + hand_written(language)
    missing = missing_evidence(built, items)
    if missing:
        raise ValueError(f"evidence not found in its document: {missing}")
    kb, facts = ingest_folder(built.folder, f"debian-docs-{language}")
    log(f"{language}: {facts}")
    rows, retrieval = search_all(kb, items)
    ask_all(kb, items, rows)
    counts = {kind: sum(i.kind == kind for i in items)
              for kind in ("heading", "paraphrase", "typo", "unanswerable")}
    return LanguageResult(language, facts, counts, retrieval, answer_summary(rows), rows,
                          failure_kinds(rows))


# ----- report -----------------------------------------------------------------------------

def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def report(results: list[LanguageResult], command: str, elapsed: float) -> str:
    lines = ["### Real documents: Debian documentation (English, Korean)", "",
             f"Command: `{command}` ({elapsed / 60:.1f} min)", "",
             f"Machine: {machine_facts()}.", "",
             "Knowledge bases created with `ingest FOLDER --kb SLUG --create` (no language "
             "flag): " + "; ".join(
                 f"{r.language}: {r.knowledge_base.documents} documents indexed, "
                 f"{len(r.knowledge_base.failed)} failed, {r.knowledge_base.chunks} passages "
                 f"(median {r.knowledge_base.chunk_chars_median} characters), language "
                 f"{r.knowledge_base.language}, model {r.knowledge_base.embedding_model}, "
                 f"ingested in {r.knowledge_base.ingest_s} s" for r in results) + ".", "",
             "| language | questions | Recall@1 | Recall@5 | MRR |", "|---|---|---|---|---|"]
    for r in results:
        for kind, s in r.retrieval.items():
            lines.append(f"| {r.language} | {kind} ({r.counts[kind]}) | "
                         f"{_fmt(s['recall_at_1'])} | {_fmt(s['recall_at_5'])} | "
                         f"{_fmt(s['mrr'])} |")
    lines += ["", "| language | citation precision | answered with the evidence "
              "| refused answerable | refused unanswerable "
              "| search had it at rank 1, ask refused or cited elsewhere |",
              "|---|---|---|---|---|---|"]
    for r in results:
        a = r.answers
        lines.append(f"| {r.language} | {_fmt(a['citation_precision'])} | "
                     f"{_fmt(a['answered_with_evidence'])} | {_fmt(a['refuse_answerable'])} | "
                     f"{_fmt(a['refuse_unanswerable'])} | {_fmt(a['rank1_but_ask_lost_it'])} |")
    lines += ["", "| gate | " + " | ".join(r.language for r in results) + " | goal |",
              "|---|" + "---|" * len(results) + "---|"]
    for gate, goal in GATES.items():
        cells = []
        for r in results:
            value = r.gates()[gate][0]
            cells.append(f"{_fmt(value)} {'pass' if (value or 0) >= goal else 'FAIL'}")
        lines.append(f"| {gate} | " + " | ".join(cells) + f" | >= {goal} |")
    lines += ["", "Answerable questions whose evidence was not first: " + "; ".join(
        f"{r.language}: " + ", ".join(f"{k} {v}" for k, v in r.failures.items())
        for r in results) + ".", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", nargs="+", default=["en", "ko"], choices=["en", "ko"])
    parser.add_argument("--headings", type=int, default=HEADINGS,
                        help="heading questions per language")
    parser.add_argument("--cache", type=Path, default=corpus.DEFAULT_CACHE)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--rows", type=Path, help="also save every question's row (JSON)")
    args = parser.parse_args()
    command = command_line("benchmarks/debian_docs.py")
    started = time.perf_counter()
    data_dir = setup_django()
    log(f"data dir {data_dir}")
    results = [evaluate(language, Path(tempfile.mkdtemp(prefix=f"debian-docs-{language}-")),
                        headings_count=args.headings, cache=args.cache)
               for language in args.languages]
    text = report(results, command, time.perf_counter() - started)
    if args.rows:
        args.rows.write_text(json.dumps([asdict(row) for r in results for row in r.rows],
                                        ensure_ascii=False, indent=1))
    if args.json:
        print(json.dumps([{k: v for k, v in asdict(r).items() if k != "rows"}
                          for r in results], ensure_ascii=False, indent=1))
    else:
        print(text)
    if not args.no_write:
        write_section("debian_docs", text)


if __name__ == "__main__":
    main()
