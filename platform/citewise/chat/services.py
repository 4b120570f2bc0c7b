"""The ask service: a question in, a streamed answer with verified citations out.

Steps: check access; rewrite a follow-up into a standalone question; search (hybrid);
decide whether the evidence answers the question (else "not found", recorded for the gap
report); generate with numbered sources, streaming; parse and resolve citation markers as
they arrive; verify each cited sentence against its source; store the exchange with its
citations and token counts. Every surface (web, API, OpenAI endpoint, command) calls it
and renders its events (citewise.chat.events).

Stopping: closing the event iterator while the answer streams (the person pressed Stop,
or the connection went) closes the model's request, which cancels the generation, and
stores what had arrived as a stopped answer.

Failing: when the LLM fails (down, silent, 5xx, cut midway), an `AskFailed` event ends the
answer and the exchange is stored with its error code and what had arrived; the extractive
backend takes over instead (CITEWISE_LLM_FALLBACK) only while nothing was streamed yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils.http import urlencode

from citewise.chat.backends import backend_name, extractive_backend, verifier, vllm_backend
from citewise.chat.events import (
    AskCitation,
    AskEvent,
    AskFailed,
    AskNotFound,
    AskNotice,
    AskResult,
    AskText,
    CitedSource,
    NoticeCode,
)
from citewise.chat.models import Citation, Conversation, Message, Role, UnansweredQuestion
from citewise.chat.visibility import withheld
from citewise.knowledge.choices import AnswerBackend
from citewise.knowledge.models import AnswerExample, KnowledgeBase
from citewise.knowledge.permissions import Actor, KeyActor, acting_user, readable_ids
from citewise.knowledge.search import Passage, allowed_knowledge_bases, search
from citewise.ops.metrics import ANSWER_LATENCY, answer_stage
from inference.answerability import AnswerabilityConfig, decide, evidence
from inference.backends.base import (
    AnswerBackend as BackendProtocol,
)
from inference.backends.base import (
    AnswerRequest,
    Delta,
    Done,
    Example,
    Turn,
    Usage,
)
from inference.backends.extractive import ExtractiveBackend
from inference.citations import CitationParser
from inference.errors import LLMUnavailable
from inference.languages import (
    closest_documents_heading,
    detect_language,
    fallback_notice,
    is_not_found,
    not_found_message,
    other_language_hint,
)
from inference.sources import Source
from inference.spelling import correct_typos
from ingestion.chunker import Location, quoted_location
from textproc.normalize import collapse_whitespace

logger = logging.getLogger(__name__)

HISTORY_TURNS = 6  # recent messages given to the rewrite and the LLM (tokens bound them too)
CLOSEST_DOCUMENTS = 3
MAX_EXAMPLES = 4  # few-shot examples per answer, in the admins' order


@dataclass(frozen=True)
class Sampling:
    """What the caller asks of the LLM's generation (None: the server's setting)."""

    temperature: float | None = None
    max_tokens: int | None = None


def ask(actor: Actor, question: str, *, knowledge_bases: Iterable[KnowledgeBase] | None = None,
        conversation: Conversation | None = None, history: Sequence[Turn] | None = None,
        temperature: float | None = None, max_tokens: int | None = None,
        ) -> Iterator[AskEvent]:
    """Answer `question` from the knowledge bases the actor may read (all of them, or the
    ones given). Raises PermissionDenied for a knowledge base the actor may not read and
    ValueError for an empty question; everything else arrives as events.

    history: the earlier turns, oldest first, when the caller keeps the conversation (the
    OpenAI-compatible endpoint); used instead of a stored conversation's, so it cannot
    come with `conversation` (ValueError). The exchange is stored in a new conversation.
    temperature (0-2) and max_tokens (of the answer) go to the vLLM backend (None: the
    server's settings); the extractive backend ignores them."""
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    if history is not None and conversation is not None:
        raise ValueError("give the history or a stored conversation, not both")
    with answer_stage("permissions"):
        kbs = allowed_knowledge_bases(actor, knowledge_bases)
    if not kbs:
        raise PermissionDenied("there is no knowledge base you may read")
    began = time.perf_counter()
    with ANSWER_LATENCY.time():
        yield from _Answer(actor, question, kbs, conversation, began, history=history,
                           sampling=Sampling(temperature, max_tokens)).run()


class _Answer:
    def __init__(self, actor: Actor, question: str, kbs: list[KnowledgeBase],
                 conversation: Conversation | None, began: float, *,
                 history: Sequence[Turn] | None = None,
                 sampling: Sampling | None = None) -> None:
        self.actor, self.question, self.kbs, self.began = actor, question, kbs, began
        # A new conversation is created with the exchange it holds (_store), after the
        # answer: one transaction fewer before the first token.
        self.conversation = conversation
        self.language = detect_language(question)
        if history is not None:
            self.history = list(history)[-HISTORY_TURNS:]
        elif conversation is None:
            self.history = []
        else:
            with answer_stage("history"):
                self.history = history_of(actor, conversation)
        self.sampling = sampling or Sampling()
        self.backend_name = backend_name(kbs)
        self.kb_names = ", ".join(kb.name for kb in kbs)
        self.rewrite_usage = Usage(0, 0)  # tokens of the follow-up rewrite, if the LLM did it
        self.llm_down: LLMUnavailable | None = None  # the rewrite found the LLM failing

    def run(self) -> Iterator[AskEvent]:
        """Named steps: retrieve (typos corrected), decide, generate (falling back when
        the LLM is down), finish (verification, storage, citations)."""
        search_query, passages = self._retrieve(self._standalone_question())
        sources = [_source(n, passage) for n, passage in enumerate(passages, start=1)]
        if not self._decide(search_query, sources, passages):
            yield from self._not_found(search_query, passages)
            return
        reply = _Reply(sources, self.backend_name)
        try:
            yield from self._generate(self._request(search_query, sources), reply)
            if reply.failed:
                reply.drain()
                self._conclude(search_query, sources, passages, reply)
                return
            yield from reply.close()
        except GeneratorExit:  # stopped: the backend's request is already closed
            reply.drain()
            self._conclude(search_query, sources, passages, reply, stopped=True)
            raise
        yield from self._finish(self._conclude(search_query, sources, passages, reply))

    def _retrieve(self, query: str) -> tuple[str, list[Passage]]:
        """Search; a word of the question that the passages found do not use but spell
        one letter differently is a typo: corrected, and searched again."""
        passages = self._search(query)
        with answer_stage("spelling"):
            corrected = correct_typos(query, (p.text for p in passages))
        if corrected == query:
            return query, passages
        return corrected, self._search(corrected)

    def _search(self, query: str) -> list[Passage]:
        return search(self.actor, query, knowledge_bases=self.kbs, k=settings.ASK_TOP_K)

    def _decide(self, search_query: str, sources: list[Source],
                passages: list[Passage]) -> bool:
        """Does the evidence answer the question (inference.answerability), and, for the
        extractive backend, is there a sentence to quote? A refusal decided here streams
        nothing before it. The sources' sentences are embedded and scored only when the
        decision or the backend reads them: for an LLM answer with the default feature
        (term_coverage) that work would only delay the first token."""
        with answer_stage("answerability"):
            extractive = extractive_backend(self.kbs[0])
            config = answerability_config()
            quoting = self.backend_name == AnswerBackend.EXTRACTIVE
            sentences = (extractive.score_sentences(search_query, sources)
                         if quoting or config.uses_sentences else [])
            features = evidence(search_query, sources=sources,
                                results=[_scores(p) for p in passages], sentences=sentences)
            if not decide(features, config).answerable:
                return False
            return not quoting or bool(extractive.select(search_query, sources))

    def _request(self, search_query: str, sources: list[Source]) -> AnswerRequest:
        return AnswerRequest(
            question=self.question if self.backend_name == AnswerBackend.VLLM else search_query,
            sources=sources, history=self.history, language=self.language,
            instructions="\n\n".join(kb.instructions for kb in self.kbs if kb.instructions),
            examples=self._examples(), knowledge_base=self.kb_names,
            temperature=self.sampling.temperature, max_tokens=self.sampling.max_tokens)

    def _generate(self, request: AnswerRequest, reply: _Reply) -> Iterator[AskEvent]:
        extractive = extractive_backend(self.kbs[0])
        try:
            if self.llm_down is not None:  # one wait for a failing LLM per question, not two
                raise self.llm_down
            backend = (extractive if self.backend_name == AnswerBackend.EXTRACTIVE
                       else vllm_backend())
            yield from reply.stream(backend, request)
        except LLMUnavailable as error:
            yield from self._fall_back(error, request, reply, extractive)

    def _fall_back(self, error: LLMUnavailable, request: AnswerRequest, reply: _Reply,
                   extractive: ExtractiveBackend) -> Iterator[AskEvent]:
        """The LLM is down: quote the documents instead (with a notice), when allowed and
        nothing was streamed yet; otherwise the answer fails."""
        if reply.streamed or not settings.LLM_FALLBACK:
            # A half-streamed answer is never silently continued by another backend.
            logger.warning("answer failed (%s): %s", error.code, error.message)
            reply.failed = error.code
            yield AskFailed(error.code, error.message)
            return
        reply.notice = fallback_notice(self.language)
        yield AskNotice(NoticeCode.LLM_FALLBACK, reply.notice)
        reply.restart()
        yield from reply.stream(extractive, request)

    def _conclude(self, search_query: str, sources: list[Source], passages: list[Passage],
                  reply: _Reply, *, stopped: bool = False) -> AskResult:
        """Verify and store the answer. A backend that found nothing to say after all is a
        refusal like any other: it lists the documents that came closest and goes to the
        gap report. A stopped or failed answer is stored as it was when it ended, marked
        so (a failed one with its error code), never as a complete answer."""
        parser = reply.parser
        refused = reply.refused and not stopped and not reply.failed
        closest = self._closest(passages) if refused else []
        answer = parser.text
        if refused:
            if closest and not parser.citations:
                answer += _closest_listing(self.language, closest)
            self._record_gap(closest, passages)
        with answer_stage("verification"):
            verification = verifier(extractive_backend(self.kbs[0]).embed_passages).verify(
                parser.text, parser.citations, sources)
        return self._store(answer=answer, search_query=search_query, sources=sources,
                           passages=passages, cited=sorted({n for c in parser.citations
                                                            for n in c.numbers}),
                           supported=verification.citation_supported,
                           snippets=verification.snippets, grounded=verification.grounded,
                           backend=reply.backend, usage=reply.usage, notice=reply.notice,
                           invalid=parser.invalid_count, not_found=refused, closest=closest,
                           stopped=stopped, finish_reason=reply.finish_reason,
                           error_code=reply.failed)

    def _finish(self, result: AskResult) -> Iterator[AskEvent]:
        """After the text: the refusal (replacing it), or each verified citation; then the
        stored answer."""
        if result.not_found:
            yield AskNotFound(message=result.answer.split("\n\n")[0], text=result.answer,
                              knowledge_bases=[kb.name for kb in self.kbs],
                              closest_documents=result.closest_documents)
        for citation in result.citations:
            yield AskCitation(citation)
        yield result

    def _examples(self) -> list[Example]:
        """The admins' few-shot examples of the knowledge bases asked (the prompt builder
        keeps those that fit a quarter of the prompt)."""
        if self.backend_name != AnswerBackend.VLLM:
            return []
        with answer_stage("examples"):
            rows = list(AnswerExample.objects.filter(knowledge_base__in=self.kbs).order_by(
                "knowledge_base__name", "position", "pk")[:MAX_EXAMPLES])
        return [Example(row.question, row.answer, (row.source,) if row.source.strip() else ())
                for row in rows]

    def _standalone_question(self) -> str:
        if not self.history:
            return self.question
        if self.backend_name == AnswerBackend.VLLM:
            try:
                with answer_stage("rewrite"):
                    rewritten, self.rewrite_usage = vllm_backend().rewrite(self.history,
                                                                           self.question)
                return rewritten
            except LLMUnavailable as error:
                self.llm_down = error  # the answer step reports it; retrieval still works
        with answer_stage("rewrite"):
            return extractive_backend(self.kbs[0]).rewrite_question(self.history,
                                                                    self.question)

    def _not_found(self, search_query: str, passages: list[Passage]) -> Iterator[AskEvent]:
        closest = self._closest(passages)
        message = not_found_message(self.language, self.kb_names)
        hint = other_language_hint(self.language, self._documents_language())
        message = f"{message} {hint}" if hint else message
        text = message + (_closest_listing(self.language, closest) if closest else "")
        self._record_gap(closest, passages)
        yield AskNotFound(message=message, text=text,
                          knowledge_bases=[kb.name for kb in self.kbs],
                          closest_documents=closest)
        yield self._store(answer=text, search_query=search_query, sources=[], passages=[],
                          cited=[], supported={}, snippets={}, grounded=False,
                          backend=self.backend_name, usage=Usage(0, 0), notice="", invalid=0,
                          not_found=True, closest=closest)

    def _closest(self, passages: list[Passage]) -> list[dict]:
        other_language = bool(other_language_hint(self.language, self._documents_language()))
        return _closest_documents(passages, shared_words_only=other_language)

    def _documents_language(self) -> str:
        """The language all the asked knowledge bases are written in ("" when they differ)."""
        languages = {kb.documents_language for kb in self.kbs}
        return languages.pop() if len(languages) == 1 else ""

    def _record_gap(self, closest: list[dict], passages: list[Passage]) -> None:
        """The question goes to the admins' report of what the documents do not answer,
        with how close the closest passage came."""
        with answer_stage("storage"), transaction.atomic():
            gap = UnansweredQuestion.objects.create(
                question=self.question, best_score=closest_similarity(passages),
                closest_documents=closest,
                user=acting_user(self.actor))
            gap.knowledge_bases.set(self.kbs)

    def _store(self, *, answer: str, search_query: str, sources: list[Source],
               passages: list[Passage], cited: list[int], supported: dict[int, bool],
               snippets: dict[int, str], grounded: bool, backend: str, usage: Usage,
               notice: str, invalid: int, not_found: bool = False,
               closest: list[dict] | None = None, stopped: bool = False,
               finish_reason: str = "stop", error_code: str = "") -> AskResult:
        usage = usage + self.rewrite_usage  # the answer's whole cost, rewrite included
        # A refusal states nothing to ground; a failed answer is not whole.
        grounded = grounded and not not_found and not error_code
        by_n = {source.n: (source, passage) for source, passage in
                zip(sources, passages, strict=True)}
        citations = [_cited(n, *by_n[n], supported=supported.get(n, False),
                            snippet=snippets.get(n)) for n in cited if n in by_n]
        with answer_stage("storage"), transaction.atomic():
            if self.conversation is None:
                self.conversation = new_conversation(self.actor, self.question, self.kbs)
            Message.objects.create(conversation=self.conversation, role=Role.USER,
                                   text=self.question)
            message = Message.objects.create(
                conversation=self.conversation, role=Role.ASSISTANT, text=answer,
                search_query=search_query, backend=backend, not_found=not_found,
                grounded=grounded, stopped=stopped, notice=notice, error_code=error_code,
                invalid_citations=invalid, closest_documents=closest or [],
                searched_knowledge_bases=[kb.name for kb in self.kbs] if not_found else [],
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                latency_ms=int((time.perf_counter() - self.began) * 1000))
            Citation.objects.bulk_create(Citation(
                message=message, n=c.n, chunk_id=c.chunk_id,
                document_id=by_n[c.n][1].document_id,
                knowledge_base=next((kb for kb in self.kbs if kb.slug == c.knowledge_base),
                                    None),
                document_name=c.document, title=c.title, page=c.page, line=c.line,
                document_type=c.document_type, heading_path=c.heading_path,
                snippet=c.snippet, supported=c.supported,
            ) for c in citations)
            self.conversation.save(update_fields=["updated_at"])
        return AskResult(
            conversation_id=self.conversation.pk, message_id=message.pk,
            question=self.question, search_query=search_query, answer=answer,
            not_found=not_found, grounded=grounded, backend=backend, citations=citations,
            usage=usage, invalid_citations=invalid, notice=notice,
            closest_documents=closest or [], stopped=stopped,
            cut_short=finish_reason == "length" and not not_found)


class _Reply:
    """The answer as it streams: the citation parser, the backend that wrote it, its token
    counts and how it ended."""

    def __init__(self, sources: list[Source], backend: str) -> None:
        self.sources, self.backend = sources, backend
        self.parser = CitationParser(sources)
        self.usage, self.finish_reason = Usage(0, 0), "stop"
        self.notice, self.streamed = "", False
        self.failed = ""  # the error code (inference.errors.ErrorCode) when it failed

    def stream(self, backend: BackendProtocol, request: AnswerRequest) -> Iterator[AskText]:
        self.backend = backend.name
        for event in backend.stream(request):
            if isinstance(event, Done):
                self.usage, self.finish_reason = event.usage, event.finish_reason
            else:
                yield from self.feed(event.text, verbatim=event.verbatim)

    def feed(self, text: str, *, verbatim: bool = False) -> Iterator[AskText]:
        yield from self._texts(self.parser.feed(text, verbatim=verbatim))

    def close(self) -> Iterator[AskText]:
        yield from self._texts(self.parser.close())

    def drain(self) -> None:
        """Take in what the parser still holds, showing nothing (the person stopped)."""
        for _ in self.close():
            pass

    def restart(self) -> None:
        """Start over with another backend (nothing was streamed yet)."""
        self.parser = CitationParser(self.sources)

    @property
    def refused(self) -> bool:
        """The backend said "not found", or an LLM wrote a refusal (as its rules ask)
        without citing anything."""
        return self.finish_reason == "not_found" or (
            not self.parser.citations and is_not_found(self.parser.text))

    def _texts(self, pieces: Iterable[object]) -> Iterator[AskText]:
        for piece in pieces:
            if isinstance(piece, Delta) and piece.text:
                self.streamed = True
                yield AskText(piece.text)


def closest_similarity(passages: list[Passage]) -> float | None:
    """The best cosine similarity between the question and a retrieved passage (about 0-1;
    None when nothing was retrieved or no passage came from the dense index): how close
    the documents came, for the gap report. (Fused scores are rank-based and tell an
    admin nothing; the answerability score is 0 for most questions the documents miss.)"""
    values = [p.scores["dense"] for p in passages if p.scores.get("dense") is not None]
    return round(float(max(values)), 4) if values else None


def answerability_config() -> AnswerabilityConfig:
    return AnswerabilityConfig(weights={settings.ANSWERABILITY_FEATURE: 1.0},
                               threshold=settings.ANSWERABILITY_THRESHOLD)


def new_conversation(actor: Actor, question: str, kbs: list[KnowledgeBase]) -> Conversation:
    """A conversation titled by its first question, on one line (a title shows in
    one-line places, where a line break would vanish and glue two words together); a
    key's conversations are its owner's, listed per key."""
    conversation = Conversation.objects.create(
        user=acting_user(actor), api_key=actor.key if isinstance(actor, KeyActor) else None,
        title=collapse_whitespace(question)[:200])
    conversation.knowledge_bases.set(kbs)
    return conversation


def history_of(actor: Actor, conversation: Conversation) -> list[Turn]:
    """The conversation's last HISTORY_TURNS messages as the model sees them, oldest
    first, leaving out answers the actor may no longer see (chat.visibility)."""
    recent = list(conversation.messages.order_by("-created_at", "-pk")
                  .prefetch_related("citations")[:HISTORY_TURNS])
    readable = readable_ids(actor)
    return [Turn(message.role, message.text) for message in reversed(recent)
            if not withheld(actor, message, readable)]


def _closest_listing(language: str, closest: list[dict]) -> str:
    """What follows a "not found" answer: the documents that came closest, by title."""
    titles = "\n".join(f"- {item['title']}" for item in closest)
    return f"\n\n{closest_documents_heading(language)}\n{titles}"


def _source(n: int, passage: Passage) -> Source:
    return Source(n=n, chunk_id=passage.chunk_id, title=passage.title,
                  document=passage.document, page=passage.page,
                  heading_path=tuple(passage.heading_path), text=passage.text,
                  score=passage.score, coverage=passage.scores.get("term_coverage"),
                  section_starts=_section_starts(passage))


def _section_starts(passage: Passage) -> tuple[int, ...]:
    """Offsets in the passage's text where its heading path changes (Chunk.locations)."""
    return tuple(later.offset for earlier, later in pairwise(_locations(passage))
                 if later.heading_path != earlier.heading_path)


def _locations(passage: Passage) -> list[Location]:
    return [Location.from_json(value) for value in passage.locations]


def _scores(passage: Passage) -> SimpleNamespace:
    return SimpleNamespace(fused_score=passage.scores.get("fused"),
                           dense_score=passage.scores.get("dense"),
                           lexical_score=passage.scores.get("lexical"),
                           term_coverage=passage.scores.get("term_coverage"))


def _cited(n: int, source: Source, passage: Passage, *, supported: bool,
           snippet: str | None) -> CitedSource:
    found = _quoted_location(source, passage, snippet)
    return CitedSource(
        n=n, chunk_id=source.chunk_id, knowledge_base=passage.knowledge_base,
        document=source.document, title=source.title, page=found.page,
        heading_path=list(found.heading_path), snippet=snippet or source.text[:300],
        supported=supported, url=source_url(source.chunk_id, found.page, snippet),
        line=found.line, document_type=passage.document_type)


def _quoted_location(source: Source, passage: Passage, snippet: str | None) -> Location:
    """Page, heading path and line of the sentence the citation quotes (the verifier's
    best supporting sentence), not of the passage's start: a passage may span pages,
    sheet rows and lines."""
    found = quoted_location(source.text, _locations(passage), snippet or "")
    if found is None:  # a chunk stored before locations were kept
        return Location(0, source.page, tuple(source.heading_path))
    return found


def source_url(chunk_id: int, page: int | None, quote: str | None) -> str:
    """The source viewer's address for a passage, opened at the cited page with the
    quoted sentence (the verifier's; never the passage's start) highlighted in it."""
    query = urlencode({key: value for key, value in (("page", page), ("quote", quote))
                       if value})
    return source_path(chunk_id) + (f"?{query}" if query else "") + "#cited"


def source_path(chunk_id: int) -> str:
    """The source viewer's path for a passage, reversed in the pages' own URLconf
    (frontend.urls, mounted at the root): the project's would first import the API's
    and the admin's views, most of a cold `manage.py ask`'s start (benchmarks/RESULTS.md,
    cold start)."""
    return reverse("source", urlconf="frontend.urls", args=[chunk_id])


def _closest_documents(passages: list[Passage], *, shared_words_only: bool = False) -> list[dict]:
    """The documents of the best passages, first CLOSEST_DOCUMENTS. A passage that scored
    0 found nothing; with `shared_words_only` (the question is in another language than
    the documents, whose model then gives every passage about the same similarity) only
    passages holding a word of the question count: naming the others would only list the
    knowledge base's first files."""
    seen: dict[int, dict] = {}
    for passage in passages:
        coverage = passage.scores.get("term_coverage") or 0
        if passage.score <= 0 or (shared_words_only and coverage <= 0):
            continue
        if passage.document_id not in seen:
            seen[passage.document_id] = {"document": passage.document, "title": passage.title,
                                         "url": source_path(passage.chunk_id),
                                         "knowledge_base": passage.knowledge_base}
        if len(seen) == CLOSEST_DOCUMENTS:
            break
    return list(seen.values())
