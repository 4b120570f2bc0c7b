"""Retrieval quality on the shared evaluation sets: dense, BM25 and hybrid.

    .venv/bin/python benchmarks/retrieval_quality.py [--sets python-faq korquad]
        [--korquad-questions 300] [--model MODEL] [--compare-tokenizers] [--compare-fusion]
        [--lexical-only] [--vector-stores faiss milvus-lite milvus:URI ...]

python-faq: the nine FAQ pages, split into section passages by a benchmark-local HTML
extractor; a hit is a passage of the right page whose text overlaps the answer's evidence.
korquad: each paragraph is a passage; a hit is the paragraph the question was written on.
The real stores and HybridSearcher are used, in a temporary folder. With several
--vector-stores the passages are embedded once and the same vectors are loaded into each
store (milvus-lite: a Milvus Lite file in the temporary folder), one table per store.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.eval_sets import EVAL
from retrieval.embedder import EmbedderConfig, TextEmbedder, get_embedder
from retrieval.fusion import FusionConfig
from retrieval.hybrid import HybridSearcher, KnowledgeBaseRef, SearchOptions
from retrieval.lexical import LexicalStore
from retrieval.stores import FAISS, VectorIndex, open_vector_store, parse_vector_store
from textproc.tokens import TokenizerConfig

PASSAGE_WORDS = 250


@dataclass
class Corpus:
    name: str
    texts: list[str]  # passage text, index = chunk id
    questions: list[str]
    is_hit: Callable[[int, int], bool]  # (question index, chunk id) -> relevant?
    relevant_count: list[int]  # relevant passages per question (for ideal DCG)


# ----- python-faq -------------------------------------------------------------------------

class _Sections(HTMLParser):
    """Text of an HTML page split at h1-h4 headings: [(heading, text)]."""

    BLOCKS = frozenset({"p", "li", "pre", "div", "dt", "dd", "tr", "br", "h1", "h2", "h3",
                        "h4", "table", "blockquote"})
    SKIP = frozenset({"script", "style", "nav"})

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[tuple[str, list[str]]] = [("", [])]
        self._heading: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        if tag in {"h1", "h2", "h3", "h4"}:
            self._heading = []
        elif tag in self.BLOCKS:
            self.sections[-1][1].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag in {"h1", "h2", "h3", "h4"} and self._heading is not None:
            heading = " ".join("".join(self._heading).split()).rstrip("¶").strip()
            self.sections.append((heading, []))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        else:
            self.sections[-1][1].append(data)


def html_passages(html: str) -> list[str]:
    parser = _Sections()
    parser.feed(html)
    passages = []
    for heading, parts in parser.sections:
        words = " ".join(parts).split()
        for start in range(0, len(words), PASSAGE_WORDS):
            body = " ".join(words[start:start + PASSAGE_WORDS])
            if body or heading:
                passages.append(f"{heading}\n{body}".strip())
    return passages


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def python_faq() -> Corpus:
    root = EVAL / "python-faq"
    texts, docs = [], []
    for path in sorted((root / "docs").glob("*.html")):
        for passage in html_passages(path.read_text(encoding="utf-8")):
            texts.append(passage)
            docs.append(path.name)
    qa = [json.loads(line) for line in (root / "qa.jsonl").read_text().splitlines() if line]
    passage_shingles = [_shingles(t) for t in texts]
    relevant: list[set[int]] = []
    for item in qa:
        evidence = _shingles(item["evidence"])
        relevant.append({cid for cid, doc in enumerate(docs)
                         if doc == item["document"] and passage_shingles[cid] & evidence})
    return Corpus("python-faq", texts, [q["question"] for q in qa],
                  lambda q, cid: cid in relevant[q], [len(r) for r in relevant])


# ----- korquad --------------------------------------------------------------------------

def korquad(questions: int = 300) -> Corpus:
    data = json.loads((EVAL / "korquad" / "KorQuAD_v1.0_dev.json").read_text("utf-8"))
    texts, asked, gold = [], [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            cid = len(texts)
            texts.append(paragraph["context"])
            for qa in paragraph["qas"]:
                asked.append(qa["question"])
                gold.append(cid)
    asked, gold = asked[:questions], gold[:questions]
    return Corpus("korquad", texts, asked, lambda q, cid: cid == gold[q], [1] * len(asked))


# ----- evaluation -------------------------------------------------------------------------

@dataclass
class Scores:
    recall_at_1: float
    recall_at_5: float
    ndcg_at_10: float
    mrr: float


def score(corpus: Corpus, rankings: Sequence[Sequence[int]]) -> Scores:
    r1 = r5 = ndcg = mrr = 0.0
    for q, ranked in enumerate(rankings):
        hits = [corpus.is_hit(q, cid) for cid in ranked[:10]]
        r1 += any(hits[:1])
        r5 += any(hits[:5])
        first = next((i for i, h in enumerate(hits) if h), None)
        mrr += 0.0 if first is None else 1.0 / (first + 1)
        dcg = sum(1.0 / math.log2(i + 2) for i, h in enumerate(hits) if h)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(10, corpus.relevant_count[q])))
        ndcg += dcg / ideal if ideal else 0.0
    n = len(rankings)
    return Scores(r1 / n, r5 / n, ndcg / n, mrr / n)


def _memoize_queries(embedder: TextEmbedder) -> None:
    """Each question is embedded once per run, however many methods and fusion settings
    search with it (the searcher calls embed_query every time; vectors are not mutated)."""
    if getattr(embedder, "_bench_memo", False):
        return
    embedder.embed_query = functools.lru_cache(maxsize=20_000)(embedder.embed_query)  # type: ignore[method-assign]
    embedder._bench_memo = True  # type: ignore[attr-defined]


class Bench:
    """A corpus indexed once in a temp folder, searched with any method or setting."""

    def __init__(self, corpus: Corpus, *, tokenizer: TokenizerConfig | None = None,
                 embedder: EmbedderConfig | None = None, dense: bool = True) -> None:
        self.corpus = corpus
        self.folder = tempfile.TemporaryDirectory(prefix=f"bench-{corpus.name}-")
        self.embedder_config = embedder or EmbedderConfig()
        self.dense = dense
        started = time.perf_counter()
        self.embeddings = np.zeros((0, 0), dtype=np.float32)
        if dense:
            _memoize_queries(get_embedder(self.embedder_config))
            # Passages on the backend ingestion uses for them (bulk), queries on search's.
            passages = get_embedder(self.embedder_config, bulk=True)
            self.embeddings = np.asarray(passages.embed_passages(corpus.texts))
        self.embed_seconds = time.perf_counter() - started
        self.set_vector_store(FAISS)
        self.set_tokenizer(tokenizer or TokenizerConfig())

    def set_vector_store(self, store: str) -> None:
        """Load the passages' vectors into `store` (a CITEWISE_VECTOR_STORE value, or
        milvus-lite: a Milvus Lite file in the temporary folder)."""
        if store == "milvus-lite":
            store = f"milvus:{Path(self.folder.name) / 'milvus.db'}"
        self.vectors: VectorIndex = open_vector_store(parse_vector_store(store),
                                                      index_dir=self.folder.name)
        if self.dense:
            model = get_embedder(self.embedder_config).model_name
            self.vectors.rebuild("kb", np.arange(len(self.corpus.texts)), self.embeddings,
                                 model)

    def set_tokenizer(self, tokenizer: TokenizerConfig) -> None:
        self.lexical = LexicalStore(self.folder.name, tokenizer=tokenizer)
        self.lexical.rebuild("kb", list(range(len(self.corpus.texts))), self.corpus.texts)

    def run(self, *, use_dense: bool, use_lexical: bool,
            fusion: FusionConfig | None = None) -> Scores:
        searcher = HybridSearcher(self.vectors, self.lexical, fusion=fusion)
        kb = KnowledgeBaseRef("kb", embedder=self.embedder_config)
        options = SearchOptions(k=10, use_dense=use_dense, use_lexical=use_lexical)
        rankings = [[r.chunk_id for r in searcher.search(q, [kb], options=options)]
                    for q in self.corpus.questions]
        return score(self.corpus, rankings)

    def methods(self, fusion: FusionConfig | None = None) -> dict[str, Scores]:
        if not self.dense:
            return {"bm25": self.run(use_dense=False, use_lexical=True)}
        return {"dense": self.run(use_dense=True, use_lexical=False),
                "bm25": self.run(use_dense=False, use_lexical=True),
                "hybrid": self.run(use_dense=True, use_lexical=True, fusion=fusion)}


def _row(label: str, s: Scores) -> str:
    return (f"| {label} | {s.recall_at_1:.3f} | {s.recall_at_5:.3f} | {s.ndcg_at_10:.3f} "
            f"| {s.mrr:.3f} |")


def compare_tokenizers(bench: Bench) -> None:
    """BM25 alone with each tokenizer: quality, index build time (tokenizing every passage
    and writing the index) and per-query time (tokenizing the question and scoring); with
    dense vectors, also the hybrid's Recall@1 / Recall@5 with that tokenizer."""
    print("| BM25 tokenizer | Recall@1 | Recall@5 | nDCG@10 | MRR | index s "
          "| query p50/p95 ms | hybrid R@1 / R@5 |\n|---|---|---|---|---|---|---|---|")
    for tokenizer in (TokenizerConfig(korean="bigram"),
                      TokenizerConfig(korean="bigram", stem=True),
                      TokenizerConfig(korean="kiwi"),
                      TokenizerConfig(korean="kiwi+bigram")):
        if tokenizer.korean != "bigram":  # load kiwi's model outside the timings
            from textproc.tokens import tokenize

            tokenize("모델 로딩", tokenizer)
        t0 = time.perf_counter()
        bench.set_tokenizer(tokenizer)
        index_s = time.perf_counter() - t0
        latencies = []
        for q in bench.corpus.questions:
            t0 = time.perf_counter()
            bench.lexical.search("kb", q, 10)
            latencies.append(time.perf_counter() - t0)
        result = bench.run(use_dense=False, use_lexical=True)
        hybrid = bench.run(use_dense=True, use_lexical=True) if bench.dense else None
        print(f"{_row(tokenizer.name, result)} {index_s:.1f} "
              f"| {np.percentile(latencies, 50) * 1000:.2f} / "
              f"{np.percentile(latencies, 95) * 1000:.2f} | "
              f"{f'{hybrid.recall_at_1:.3f} / {hybrid.recall_at_5:.3f}' if hybrid else '-'} |",
              flush=True)
    bench.set_tokenizer(TokenizerConfig())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--korquad-questions", type=int, default=300)
    parser.add_argument("--compare-tokenizers", action="store_true")
    parser.add_argument("--compare-fusion", action="store_true")
    parser.add_argument("--sets", nargs="+", default=["python-faq", "korquad"])
    parser.add_argument("--model", default=EmbedderConfig.model,
                        help="embedding model for the dense rows (e.g. "
                             "universal-sentence-encoder-multilingual-3)")
    parser.add_argument("--lexical-only", action="store_true",
                        help="skip embedding: BM25 rows only (e.g. tokenizers on many questions)")
    parser.add_argument("--vector-stores", nargs="+", default=[FAISS], metavar="STORE",
                        help="faiss, milvus-lite or milvus:URI; several: one table each, "
                             "same vectors")
    args = parser.parse_args()
    header = "| method | Recall@1 | Recall@5 | nDCG@10 | MRR |\n|---|---|---|---|---|"
    loaders = {"python-faq": python_faq, "korquad": lambda: korquad(args.korquad_questions)}
    for corpus in (loaders[name]() for name in args.sets):
        started = time.perf_counter()
        bench = Bench(corpus, dense=not args.lexical_only,
                      embedder=EmbedderConfig(model=args.model))
        print(f"\n### {corpus.name}: {len(corpus.texts)} passages, "
              f"{len(corpus.questions)} questions (embedding {args.model}, "
              f"{bench.embed_seconds:.1f}s)")
        for store in args.vector_stores:
            bench.set_vector_store(store)
            print(f"\nvector store: {store}\n{header}")
            for name, result in bench.methods().items():
                print(_row(name, result), flush=True)
        if args.compare_fusion and bench.dense:
            for label, fusion in [
                ("hybrid, plain RRF (no confidence weighting)", FusionConfig(adaptive=False)),
                ("hybrid, lexical weight 2", FusionConfig(lexical_weight=2.0)),
                ("hybrid, dense weight 2", FusionConfig(dense_weight=2.0)),
                ("hybrid, rrf_k 20", FusionConfig(rrf_k=20)),
            ]:
                print(_row(label, bench.run(use_dense=True, use_lexical=True, fusion=fusion)))
        if args.compare_tokenizers:
            compare_tokenizers(bench)
        print(f"({time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
