"""Search over the knowledge bases a user may read: the only way chunks leave the database
for search, ask and every surface built on them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from citewise.knowledge import indexing
from citewise.knowledge.models import Chunk, DocumentStatus, KnowledgeBase
from citewise.knowledge.permissions import Actor, readable_knowledge_bases
from citewise.ops.metrics import SEARCH_LATENCY, answer_stage
from ingestion.chunker import Location
from retrieval.errors import SourceChanged
from retrieval.fusion import FusionConfig
from retrieval.hybrid import HybridSearcher, KnowledgeBaseRef, SearchOptions, SearchResult

# Extra hits asked of the indexes, because a few may belong to a document that is being
# replaced or deleted right now (the database, not the index, decides what is live).
STALE_SLACK = 10


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    knowledge_base: str  # slug
    document_id: int
    document: str  # original file name
    title: str
    page: int | None
    heading_path: list[str]
    text: str
    score: float
    scores: dict[str, float | int | None] = field(default_factory=dict)
    locations: list[list] = field(default_factory=list)  # Chunk.locations
    document_type: str = ""  # Document.detected_type
    line: int | None = None  # the line or spreadsheet row the passage starts on

    def as_json(self) -> dict:
        return {"chunk_id": self.chunk_id, "knowledge_base": self.knowledge_base,
                "document": self.document, "title": self.title, "page": self.page,
                "line": self.line, "document_type": self.document_type,
                "heading_path": self.heading_path, "text": self.text, "score": self.score,
                "scores": self.scores}


@cache
def searcher() -> HybridSearcher:
    reranker = None
    if settings.RERANKER_MODEL:
        from retrieval.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(settings.RERANKER_MODEL)
    fusion = FusionConfig(dense_weight=settings.DENSE_WEIGHT,
                          lexical_weight=settings.LEXICAL_WEIGHT,
                          heading_weight=settings.HEADING_WEIGHT,
                          heading_min_match=settings.HEADING_MIN_MATCH)
    return HybridSearcher(indexing.vector_store(), indexing.lexical_store(), fusion=fusion,
                          reranker=reranker, timer=answer_stage)


def allowed_knowledge_bases(actor: Actor,
                            wanted: Iterable[KnowledgeBase] | None) -> list[KnowledgeBase]:
    readable = {kb.pk: kb for kb in readable_knowledge_bases(actor)}
    if wanted is None:
        return list(readable.values())
    wanted = list(wanted)
    refused = [kb.slug for kb in wanted if kb.pk not in readable]
    if refused:
        raise PermissionDenied(f"you may not read: {', '.join(refused)}")
    # The rows just read, not the caller's objects: a knowledge base's embedding model
    # can change after the caller loaded it (its language decided, a re-embedding swapped).
    return [readable[kb.pk] for kb in wanted]


def search(actor: Actor, query: str, *, knowledge_bases: Iterable[KnowledgeBase] | None = None,
           k: int = 10) -> list[Passage]:
    with SEARCH_LATENCY.time():
        try:
            return _search(actor, query, knowledge_bases, k)
        except SourceChanged:  # a re-embedding swapped a model after the rows were read
            return _search(actor, query, knowledge_bases, k)


def _search(actor: Actor, query: str, knowledge_bases: Iterable[KnowledgeBase] | None,
            k: int) -> list[Passage]:
    with answer_stage("permissions"):
        kbs = allowed_knowledge_bases(actor, knowledge_bases)
    for kb in kbs:  # rows read just now: their index_version is the database's
        indexing.refresh_local_indexes(kb)
    by_key = {kb.index_key: kb for kb in kbs}
    refs = [KnowledgeBaseRef(key=kb.index_key, embedder=indexing.embedder_config(kb),
                             vector_source=indexing.embedding_source(kb),
                             text_source=indexing.text_source(kb)) for kb in kbs]
    live = _LiveChunks(kbs)
    results = searcher().search(query, refs, options=SearchOptions(k=k + STALE_SLACK),
                                texts=live.texts, headings=live.headings)
    passages = [_passage(result, row) for result, row in live.first_rows(results, k)]
    with answer_stage("term_coverage"):
        return _with_term_coverage(query, passages, by_key)


def _passage(result: SearchResult, row: dict) -> Passage:
    return Passage(
        chunk_id=row["pk"], knowledge_base=row["knowledge_base__slug"],
        document_id=row["document_id"], document=row["document__original_name"],
        title=row["document__title"], page=row["page_start"],
        heading_path=list(row["heading_path"]), text=row["text"],
        score=round(result.rerank_score if result.rerank_score is not None
                    else result.fused_score, 6),
        scores={"fused": result.fused_score, "dense": result.dense_score,
                "dense_rank": result.dense_rank, "lexical": result.lexical_score,
                "lexical_rank": result.lexical_rank, "rerank": result.rerank_score},
        locations=row["locations"], document_type=row["document__detected_type"],
        line=_first_line(row["locations"]),
    )


class _LiveChunks:
    """The chunks of the knowledge bases searched that are indexed now (the database, not
    the index, decides what is live). Dedupe reads the texts of the top hits (one light
    query); the passages then read the other columns of only the k they keep."""

    PASSAGE_FIELDS = ("pk", "knowledge_base_id", "knowledge_base__slug", "document_id",
                      "document__original_name", "document__title",
                      "document__detected_type", "page_start", "heading_path", "text",
                      "locations")

    def __init__(self, kbs: list[KnowledgeBase]) -> None:
        self.kbs = kbs
        self.key_of = {kb.pk: kb.index_key for kb in kbs}
        self._texts: dict[tuple[str, int], str] = {}
        self._asked: set[tuple[str, int]] = set()

    def _live(self) -> QuerySet[Chunk]:
        return Chunk.objects.filter(knowledge_base__in=self.kbs,
                                    document__status=DocumentStatus.INDEXED).order_by()

    def texts(self, keys: list[tuple[str, int]]) -> Mapping[tuple[str, int], str]:
        new = [key for key in keys if key not in self._asked]
        if new:
            self._asked.update(new)
            with answer_stage("chunk_fetch"):
                self._texts.update(
                    ((self.key_of[kb_id], pk), text) for pk, kb_id, text in
                    self._live().filter(pk__in=[pk for _, pk in new])
                    .values_list("pk", "knowledge_base_id", "text"))
        return {key: self._texts[key] for key in keys if key in self._texts}

    def first_rows(self, results: list[SearchResult], k: int) -> list[tuple[SearchResult, dict]]:
        """The first k results whose chunk is live (in order), each with its row. A chunk
        whose text was read and missing is not read again."""
        found: list[tuple[SearchResult, dict]] = []
        candidates = [r for r in results if (r.kb_key, r.chunk_id) in self._texts
                      or (r.kb_key, r.chunk_id) not in self._asked]
        while candidates and len(found) < k:
            batch, candidates = candidates[:k - len(found)], candidates[k - len(found):]
            with answer_stage("chunk_fetch"):
                rows = {row["pk"]: row for row in self._live().filter(
                    pk__in=[r.chunk_id for r in batch]).values(*self.PASSAGE_FIELDS)}
            found += [(r, rows[r.chunk_id]) for r in batch if r.chunk_id in rows
                      and self.key_of[rows[r.chunk_id]["knowledge_base_id"]] == r.kb_key]
        return found

    def headings(self, keys: list[tuple[str, int]]) -> Mapping[tuple[str, int], list[str]]:
        """The headings of the sections each chunk holds (a spreadsheet's sheet): the
        last of each heading path in its locations, as a chunk that merged small sections
        carries only their shared or deepest path."""
        if not keys:
            return {}
        with answer_stage("chunk_fetch"):
            rows = self._live().filter(pk__in=[pk for _, pk in keys]).values_list(
                "pk", "knowledge_base_id", "heading_path", "locations")
            return {(self.key_of[kb_id], pk): _section_headings(path, locations)
                    for pk, kb_id, path, locations in rows}


def _section_headings(heading_path: list[str], locations: list[list]) -> list[str]:
    paths = [Location.from_json(found).heading_path for found in locations]
    return list(dict.fromkeys(path[-1] for path in [*paths, heading_path] if path))


def _first_line(locations: list[list]) -> int | None:
    """The line the passage starts on, from Chunk.locations."""
    return Location.from_json(locations[0]).line if locations else None


def _with_term_coverage(query: str, passages: list[Passage],
                        by_key: Mapping[str, KnowledgeBase]) -> list[Passage]:
    """Adds scores["term_coverage"]: how much of the question, weighted by how rare each
    term is in the passage's knowledge base, the passage contains (the answerability
    evidence; see inference/answerability.py)."""
    by_slug = {kb.slug: kb for kb in by_key.values()}
    coverage: dict[tuple[str, int], float] = {}
    for slug in {p.knowledge_base for p in passages}:
        kb = by_slug[slug]
        ids = [p.chunk_id for p in passages if p.knowledge_base == slug]
        found = indexing.lexical_store().term_coverage(
            kb.index_key, query, ids, source=indexing.text_source(kb))
        coverage.update(((slug, chunk_id), found.get(chunk_id, 0.0)) for chunk_id in ids)
    # New passages (Passage is frozen), each with its own scores.
    return [replace(p, scores={**p.scores,
                               "term_coverage": coverage[(p.knowledge_base, p.chunk_id)]})
            for p in passages]
