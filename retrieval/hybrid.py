"""Hybrid search: dense + BM25 per knowledge base, fused with weighted RRF, then optional
near-duplicate removal and cross-encoder reranking.

Permission scoping: the caller passes only the knowledge bases the user may read; only
their indexes are opened, and every result carries the key of the index it came from, so
a chunk of any other knowledge base cannot be returned.

Fair multi-knowledge-base merging:
- Dense: knowledge bases that share an embedding model are merged into one list by cosine
  similarity, which is comparable across them (same model, same space). Knowledge bases
  with different models form separate lists.
- Lexical: one list per knowledge base, because BM25 scores depend on each corpus's own
  term statistics and are not comparable; every knowledge base's best lexical match thus
  earns the same RRF credit, so a large knowledge base cannot crowd out a small one.
- Headings: when the caller can look up each candidate's section heading, the candidates
  of both lists also form a list ranked by how closely the question matches the heading
  of the section they belong to (see `heading_match`), weighted by its best match.
- RRF then adds the lists' weighted 1/(k + rank) contributions.

Timing: a `timer` (stage name -> context manager, e.g. a Prometheus histogram's
labels(stage=...).time()) wraps each stage: query_embedding, vector_search,
lexical_search, fusion, dedupe and rerank (the `texts` lookup is the caller's to time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace

import numpy as np

from retrieval.dedupe import near_duplicates
from retrieval.embedder import EmbedderConfig, get_embedder
from retrieval.fusion import FusionConfig, RankedList, confidence, dense_confidence, rrf
from retrieval.lexical import LexicalStore, TextSource
from retrieval.rerank import Reranker
from retrieval.stores import VectorIndex
from retrieval.vector_store import EmbeddingSource
from textproc.sentences import split_sentences
from textproc.tokens import asked_names, defines_name

Key = tuple[str, int]  # (kb_key, chunk_id)
TextLookup = Callable[[list[Key]], Mapping[Key, str]]
# key -> the headings of the sections the chunk holds (several when small ones merged)
HeadingLookup = Callable[[list[Key]], Mapping[Key, Sequence[str]]]
Timer = Callable[[str], AbstractContextManager[object]]  # stage name -> timing block


@dataclass(frozen=True)
class KnowledgeBaseRef:
    """A knowledge base the caller may read, with what is needed to search or rebuild it."""

    key: str
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    vector_source: EmbeddingSource | None = None  # rebuilds a broken vector index
    text_source: TextSource | None = None  # rebuilds a broken lexical index


@dataclass(frozen=True)
class SearchResult:
    chunk_id: int
    kb_key: str
    rank: int  # final position, 1-based
    fused_score: float
    dense_score: float | None = None  # cosine similarity
    dense_rank: int | None = None  # rank in the dense list it came from
    lexical_score: float | None = None  # BM25
    lexical_rank: int | None = None  # rank within its knowledge base's BM25 list
    heading_score: float | None = None  # heading_match of its section's heading
    rerank_score: float | None = None


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    use_dense: bool = True
    use_lexical: bool = True
    dedupe_threshold: float | None = 0.8  # None: keep near-duplicates
    rerank_candidates: int = 30


class HybridSearcher:
    def __init__(self, vectors: VectorIndex, lexical: LexicalStore, *,
                 fusion: FusionConfig | None = None, reranker: Reranker | None = None,
                 timer: Timer | None = None) -> None:
        self.vectors = vectors
        self.lexical = lexical
        self.fusion = fusion or FusionConfig()
        self.reranker = reranker
        self.timer: Timer = timer or (lambda stage: nullcontext())

    def search(self, query: str, knowledge_bases: Iterable[KnowledgeBaseRef], *,
               options: SearchOptions | None = None,
               texts: TextLookup | None = None,
               headings: HeadingLookup | None = None) -> list[SearchResult]:
        """Best chunks for `query` among `knowledge_bases` only.

        `texts` fetches chunk texts (from the database) for dedupe and reranking; without
        it both are skipped. `headings` fetches the headings of each chunk's sections;
        without it there is no heading list.
        """
        options = options or SearchOptions()
        kbs = {kb.key: kb for kb in knowledge_bases}
        if not kbs or not query.strip():
            return []
        partial: dict[Key, dict[str, float | int]] = {}
        lists = []
        if options.use_dense:
            lists += self._dense_lists(query, list(kbs.values()), partial)
        if options.use_lexical:
            lists += self._lexical_lists(query, list(kbs.values()), partial)
        if headings is not None and partial and self.fusion.heading_weight > 0:
            with self.timer("heading_match"):
                lists.append(self._heading_list(query, headings, partial))
        with self.timer("fusion"):
            results = self._fuse(lists, partial)
        return self._finish(query, results, options, texts)

    def _fuse(self, lists: list[RankedList],
              partial: dict[Key, dict[str, float | int]]) -> list[SearchResult]:
        fused = rrf(lists, k=self.fusion.rrf_k)
        # Ties (e.g. every list weighted 0 because no method is confident) fall back to
        # the best rank any method gave, so a single-method search keeps that method's order.
        def order(key: Key) -> tuple[float, float, Key]:
            return (-fused[key], _best_rank(partial[key]), key)

        ordered: list[Key] = sorted(fused, key=order)  # type: ignore[arg-type]
        return [SearchResult(chunk_id=cid, kb_key=kb, rank=0, fused_score=fused[(kb, cid)],
                             **partial[(kb, cid)])  # type: ignore[arg-type]
                for kb, cid in ordered]

    def _dense_lists(self, query: str, kbs: list[KnowledgeBaseRef],
                     partial: dict[Key, dict[str, float | int]]) -> list[RankedList]:
        by_model: dict[EmbedderConfig, list[KnowledgeBaseRef]] = {}
        for kb in kbs:
            by_model.setdefault(kb.embedder, []).append(kb)
        lists = []
        for config, group in by_model.items():
            with self.timer("query_embedding"):
                embedder = get_embedder(config)
                vector = embedder.embed_query(query)
            hits: list[tuple[float, Key]] = []
            for kb in group:
                with self.timer("vector_search"):
                    ids, scores = self.vectors.search(kb.key, vector, self.fusion.candidates,
                                                      model=embedder.model_name,
                                                      source=kb.vector_source)
                hits += [(float(s), (kb.key, int(i))) for i, s in zip(ids, scores, strict=True)]
            hits.sort(key=lambda hit: -hit[0])
            hits = hits[: self.fusion.candidates]
            for rank, (score, key) in enumerate(hits, start=1):
                partial.setdefault(key, {}).update(dense_score=score, dense_rank=rank)
            scores = [s for s, _ in hits]
            weight = self.fusion.dense_weight
            if self.fusion.adaptive:
                weight *= dense_confidence(scores,
                                           confident_gap=self.fusion.dense_confident_gap,
                                           noise_gap=self.fusion.dense_noise_gap)
            lists.append(RankedList([key for _, key in hits], scores, weight))
        return lists

    def _lexical_lists(self, query: str, kbs: list[KnowledgeBaseRef],
                       partial: dict[Key, dict[str, float | int]]) -> list[RankedList]:
        lists = []
        for kb in kbs:
            with self.timer("lexical_search"):
                ids, scores = self.lexical.search(kb.key, query, self.fusion.candidates,
                                                  source=kb.text_source)
            keys = [(kb.key, int(i)) for i in ids]
            for rank, (key, score) in enumerate(zip(keys, scores, strict=True), start=1):
                partial.setdefault(key, {}).update(lexical_score=float(score),
                                                   lexical_rank=rank)
            weight = self.fusion.lexical_weight
            if self.fusion.adaptive:  # BM25 has no fixed scale: judge the list's shape
                weight *= confidence(scores)
            lists.append(RankedList(keys, [float(s) for s in scores], weight))
        return lists

    def _heading_list(self, query: str, headings: HeadingLookup,
                      partial: dict[Key, dict[str, float | int]]) -> RankedList:
        """The candidates ranked by how well a heading of their sections matches the question:
        a question that names a section ("Multiple binary packages", "셀 범위에서 필터
        제거") asks for that section, while BM25 and the embedding also rank high the
        parent section that introduces it, a sibling sharing most words, or another
        document that mentions it. Weighted by the best match, so a question that matches
        no heading well barely votes, and each candidate's vote by its own match (squared,
        as the list's weight): on ranks alone, the passage whose heading is the question
        word for word ("흩어져있는 여러 셀을 선택") led one whose heading shares most of its
        words ("셀 선택") by one rank of this list (0.0005 of fused score), less than the
        embedding's ranks 1 and 8 differ by."""
        asked = set(self.lexical.tokens(query))
        found = headings(list(partial))
        tokens: dict[str, set[str]] = {}
        scored: list[tuple[float, Key]] = []
        for key, names in found.items():
            for name in names:
                if name not in tokens:
                    tokens[name] = set(self.lexical.tokens(name))
            score = max((heading_match(asked, tokens[name]) for name in names), default=0.0)
            if score > 0:
                partial[key]["heading_score"] = score
                scored.append((score, key))
        # Passages of one section tie: the better ranked by the other lists first.
        scored.sort(key=lambda hit: (-hit[0], _best_rank(partial[hit[1]]), hit[1]))
        best = scored[0][0] if scored else 0.0
        weight = self.fusion.heading_weight * best ** 2
        if best < self.fusion.heading_min_match:
            weight = 0.0
        return RankedList([key for _, key in scored], [s for s, _ in scored], weight,
                          [(s / best) ** 2 for s, _ in scored])

    def _finish(self, query: str, results: list[SearchResult], options: SearchOptions,
                texts: TextLookup | None) -> list[SearchResult]:
        names = asked_names(query) if texts is not None else []
        # The reranker, and a question naming code (whose passage defining the name comes
        # first), look rerank_candidates deep: the first results do not depend on k.
        deep = self.reranker is not None or bool(names)
        window = max(options.k, options.rerank_candidates if deep else 0)
        found: dict[Key, str] = {}
        if texts is not None and options.dedupe_threshold is not None:
            results, found = self._deduped(results, window, texts, options.dedupe_threshold)
        if texts is not None and names and not self._names_a_section(results):
            with self.timer("definitions"):
                results = _definitions_first(results, window, names, found, texts)
        if self.reranker is not None and texts is not None:
            head = results[: options.rerank_candidates]
            _read_missing(found, [(r.kb_key, r.chunk_id) for r in head], texts)
            with self.timer("rerank"):
                scores = self.reranker.score(query, [found.get((r.kb_key, r.chunk_id), "")
                                                     for r in head])
            head = [replace(r, rerank_score=s) for r, s in zip(head, scores, strict=True)]
            results = rerank_order(head) + results[len(head):]
        return [replace(r, rank=i) for i, r in enumerate(results[: options.k], start=1)]

    def _names_a_section(self, results: list[SearchResult]) -> bool:
        """Is the question a section's heading, near enough for the heading list to vote?
        Then it asks for that section ("Iproute2 commands"), not what the code name in it
        is: a table row elsewhere ("packages: iproute2; popcon: ...") opens as a
        definition would."""
        return any(r.heading_score is not None
                   and r.heading_score >= self.fusion.heading_min_match for r in results)

    def _deduped(self, results: list[SearchResult], window: int, texts: TextLookup,
                 threshold: float) -> tuple[list[SearchResult], dict[Key, str]]:
        """The first `window` results that are not near-duplicates of a better-ranked one,
        looking at most 2 * window deep, and the texts read. A hit is dropped only for one
        ranked above it, so the texts of the top `window` usually decide it: more are read
        (from the database, before the first token of an answer) only for the places
        duplicates freed."""
        keys = [(r.kb_key, r.chunk_id) for r in results[: window * 2]]
        found: dict[Key, str] = {}
        dropped: set[Key] = set()
        read = 0
        while True:
            missing = window - (read - len(dropped))  # places still to fill
            found.update(texts(keys[read:read + missing]))
            read = min(len(keys), read + missing)
            with self.timer("dedupe"):
                dropped = near_duplicates(keys[:read], found, threshold=threshold)
            if read - len(dropped) >= window or read == len(keys):
                return ([r for r in results[:read] if (r.kb_key, r.chunk_id) not in dropped],
                        found)


def _definitions_first(results: list[SearchResult], window: int,
                       names: list[frozenset[str]], found: dict[Key, str],
                       texts: TextLookup) -> list[SearchResult]:
    """Among the first `window` results, those holding a sentence that defines a name the
    question writes as code ("GET /readyz: 200 when ...", "Variable: CITEWISE_X; ...")
    come first, each group in its order. Such a question asks what the name is; passages
    that only mention it ("check /readyz") share its rarest term as well and often more
    of the question's other words. Texts it reads are added to `found`."""
    head = results[:window]
    _read_missing(found, [(r.kb_key, r.chunk_id) for r in head], texts)
    defining = {(r.kb_key, r.chunk_id) for r in head
                if _defines(found.get((r.kb_key, r.chunk_id), ""), names)}
    if not defining:
        return results
    first = [r for r in head if (r.kb_key, r.chunk_id) in defining]
    return first + [r for r in head if (r.kb_key, r.chunk_id) not in defining] + \
        results[window:]


def _read_missing(found: dict[Key, str], keys: list[Key], texts: TextLookup) -> None:
    """Adds to `found` the texts of `keys` not read yet (one database read before the
    first token of an answer, not one per step)."""
    missing = [key for key in keys if key not in found]
    if missing:
        found.update(texts(missing))


def _defines(text: str, names: list[frozenset[str]]) -> bool:
    return any(defines_name(sentence, names)
               for line in text.splitlines() for sentence in split_sentences(line))


def _best_rank(found: Mapping[str, float | int]) -> float:
    """The best rank the dense or the lexical list gave a candidate."""
    return min(float(found[name]) for name in ("dense_rank", "lexical_rank") if name in found)


def heading_match(question: set[str], heading: set[str]) -> float:
    """Dice overlap of the question's and the heading's lexical terms, in [0, 1]: 1 when
    the question is the heading (section numbers aside). Numbers are left out of the
    heading: "4.3. changelog" is about the changelog, not about 4 or 3."""
    heading = {term for term in heading if not term.isdigit()}
    if not question or not heading:
        return 0.0
    return 2 * len(question & heading) / (len(question) + len(heading))


def rerank_order(results: list[SearchResult]) -> list[SearchResult]:
    """Sort by rerank score, best first; ties keep the fused order (stable sort)."""
    return sorted(results, key=lambda r: -(r.rerank_score if r.rerank_score is not None
                                           else -np.inf))
