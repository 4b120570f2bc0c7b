"""The embedded default backend: no GPU, no invention. It quotes the sentences of the
sources that best answer the question, each followed by its citation marker.

Each sentence of each source is scored by semantic similarity to the question (an
embed function passed in, e.g. the retrieval embedder's) and by lexical coverage (the
IDF-weighted share of the question's tokens the sentence contains, words plus Hangul
bigrams). The best sentences are printed in source order and position, so the answer
reads like the documents. Every sentence written is a verbatim sentence of a source
(whitespace collapsed), and a whole one: a line its comma, semicolon or colon leaves open
(a step of a list that is one sentence, a list's lead-in) is never quoted alone. A list
that is one sentence (textproc.sentences.list_sentences) is quoted whole, its lead-in and
items on their own lines as the document has them, under one marker, or not at all.
"""

from __future__ import annotations

import math
import re
import threading
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from inference.backends.base import AnswerRequest, Delta, Done, Event, Turn, Usage
from inference.languages import not_found_message
from inference.sources import Source
from textproc.normalize import collapse_whitespace, without_section_number
from textproc.sentences import Span, list_sentences, sentence_spans, whole_sentences
from textproc.tokens import (
    IDENTIFIER_WEIGHT,
    MATCHING,
    approx_tokens,
    asked_names,
    defined_identifiers,
    defines_name,
    light_stem,
    match_tokens,
    word_count,
)

EmbedQuery = Callable[[str], "np.ndarray | Sequence[float]"]
EmbedPassages = Callable[[list[str]], "np.ndarray | Sequence[Sequence[float]]"]
TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class ScoredSentence:
    n: int  # source number
    index: int  # position of the sentence in its source
    text: str  # whitespace-collapsed, verbatim otherwise
    semantic: float | None
    lexical: float
    score: float
    # Headings and questions help choose the passage (an FAQ heading that matches the
    # question marks its answer) but are never quoted: a question is not an answer.
    quotable: bool = True
    section: int = 0  # which section of its passage (Source.section_starts) it is in
    defines: bool = False  # opens by defining a name the question writes as code
    # A line that leaves its sentence open (textproc.sentences.whole_sentences): it helps
    # choose the passage like any sentence but is never quoted.
    whole: bool = True
    is_list: bool = False  # a list that is one sentence, quoted whole (_Candidate.is_list)


@dataclass(frozen=True)
class _Candidate:
    n: int  # source number
    index: int  # position in its source (-1: the heading)
    text: str
    tokens: list[str]
    quotable: bool = True
    section: int = 0
    whole: bool = True
    # A list that is one sentence, quoted whole. Its lines are candidates too, so the
    # words it repeats are left out of the idf and of the semantic confidence: every other
    # sentence scores as it did without it.
    is_list: bool = False


@dataclass(frozen=True)
class ExtractiveConfig:
    max_sentences: int = 3
    max_chars: int = 900
    semantic_weight: float = 0.5  # score = w * semantic + (1 - w) * lexical
    # The semantic weight is scaled by how clearly the embedding model tells this
    # question's sentences apart: the best similarity's lead over the median one. An
    # English-only model given Korean gives every sentence about the same similarity, and
    # that noise then picked the wrong passage (KorQuAD citation precision 0.877 with the
    # full weight, 0.893 scaled: benchmarks/extractive_choices.py). Leads measured with
    # all-MiniLM-L6-v2 over the sentences of the six retrieved passages (5th-95th
    # percentile): Python FAQ 0.41-0.85, KorQuAD 0.06-0.26. At or below
    # `semantic_noise_lead` the weight is 0; from `semantic_confident_lead` on it is full.
    semantic_noise_lead: float = 0.25
    semantic_confident_lead: float = 0.4
    # Keep sentences of the chosen passage scoring >= cutoff * its best one (more context
    # around the best sentence: KorQuAD answers correct 0.843 -> 0.853, same precision).
    relative_cutoff: float = 0.5
    # Quote only from the passage holding the best sentence. Measured on the eval sets, the
    # second and third quotes from other passages were mostly distractors (citation
    # precision 0.44 with quotes from any passage): benchmarks/RESULTS.md.
    single_source: bool = True
    # Which passage: the best-ranked by retrieval (lowest n) whose strength (below) is at
    # least this share of the strongest passage's. Retrieval ranks passages better than
    # one sentence's score does (Recall@1 0.88-0.92 against 0.75 on the eval sets).
    source_tolerance: float = 0.7
    # When that passage does not hold the best sentence itself, retrieval and the
    # sentences disagree about where the answer is, and one quote would be a guess: say
    # "not found" (with the closest documents) instead. Measured on 406 questions with
    # benchmarks/extractive_choices.py (benchmarks/RESULTS.md), citation precision /
    # correct / answered, without -> with: python-faq 0.943 / 0.943 / 1.0 -> 0.971 / 0.934
    # / 0.962, korquad 0.940 / 0.890 / 1.0 -> 0.958 / 0.857 / 0.943. The tolerance sets how
    # close a higher-ranked rival must come to count; on KorQuAD 0.6 gives 0.964 / 0.850 /
    # 0.930 and 0.8 gives 0.955 / 0.867 / 0.957 (0.7 keeps within the budget of
    # refusing at most 0.1 of answerable questions, threshold refusals included).
    abstain_on_disagreement: bool = True
    # A passage's strength is its best sentence's score plus this weight times retrieval's
    # term coverage of the whole passage (Source.coverage, the knowledge base's idf). One
    # sentence's words say less than the passage's: in a KorQuAD paragraph the sentence
    # naming the subject and the one holding the answer are often two, and the answer
    # step then refused or quoted another passage where retrieval's first was right.
    # 0.3 measured best of 0.2-1.0 (benchmarks/RESULTS.md, "Answer step").
    coverage_weight: float = 0.3
    # Added to a sentence that opens by defining a name the question writes as code
    # ("GET /readyz: ...", "Variable: CITEWISE_X; ..."), whose passage then answers: a
    # sentence mentioning the name in passing ("Probe paths (/healthz, /readyz) are
    # logged ...") otherwise won on retrieval's rank (tests/integration/test_demo_answers.py).
    definition_bonus: float = 0.25
    min_score: float = 0.05  # below this, nothing answers: a "not found" reply
    # Shorter fragments (headings, list bullets) are not quoted. Counted in words, stop
    # words included: "Alcohol is not reimbursed." has two content words and is an answer.
    min_words: int = 3
    max_sentence_chars: int = 600
    cache_size: int = 32


class ExtractiveBackend:
    name = "extractive"

    def __init__(self, *, embed_query: EmbedQuery | None = None,
                 embed_passages: EmbedPassages | None = None,
                 count_tokens: TokenCounter | None = None,
                 config: ExtractiveConfig | None = None) -> None:
        if (embed_query is None) != (embed_passages is None):
            raise ValueError("pass both embed_query and embed_passages, or neither")
        self.embed_query = embed_query
        self.embed_passages = embed_passages
        self.count_tokens = count_tokens or approx_tokens
        self.config = config or ExtractiveConfig()
        self._cache: OrderedDict[tuple, list[ScoredSentence]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- scoring ----------------------------------------------------------------------
    def score_sentences(self, question: str, sources: Sequence[Source]) -> list[ScoredSentence]:
        """Every candidate sentence with its scores, best first (cached per question and
        sources, so answerability and the answer share the work)."""
        key = (question, tuple((s.n, s.chunk_id, hash(s.text), s.section_starts)
                               for s in sources))
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        scored = self._score(question, sources)
        with self._cache_lock:
            self._cache[key] = scored
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return scored

    def _score(self, question: str, sources: Sequence[Source]) -> list[ScoredSentence]:
        cfg = self.config
        candidates = [c for source in sources for c in self._candidates(source)]
        if not candidates:
            return []
        question_tokens = set(word_forms(question))
        df = Counter(t for c in candidates if not c.is_list for t in set(c.tokens))
        counted = sum(not c.is_list for c in candidates)
        total = len(candidates)
        # A name the question writes as code weighs more than its other words: a sentence
        # sharing only the name's parts ("reconciler", "seconds") or the question's other
        # words ("reports") is about something else.
        names = asked_names(question)
        named = {t for name in names for t in name}
        idf = {t: (IDENTIFIER_WEIGHT if t in named else 1.0)
               * math.log(1 + (counted + 1) / (df.get(t, 0) + 0.5)) for t in question_tokens}
        idf_sum = sum(idf.values()) or 1.0
        lexical = [sum(idf[t] for t in question_tokens & set(c.tokens)) / idf_sum
                   for c in candidates]
        semantic: list[float | None] = [None] * total
        if self.embed_query is not None and self.embed_passages is not None:
            q = _unit(np.asarray(self.embed_query(question), dtype=np.float32).reshape(1, -1))
            s = _unit(np.asarray(self.embed_passages([c.text for c in candidates]),
                                 dtype=np.float32))
            semantic = [float(x) for x in (s @ q[0])]
        w = cfg.semantic_weight * self._semantic_confidence(
            [v for v, c in zip(semantic, candidates, strict=True) if not c.is_list])
        scored = []
        for c, lex, sem in zip(candidates, lexical, semantic, strict=True):
            score = lex if sem is None else w * max(sem, 0.0) + (1 - w) * lex
            defines = c.quotable and defines_name(c.text, names)
            scored.append(ScoredSentence(c.n, c.index, c.text, sem, lex,
                                         score + cfg.definition_bonus * defines, c.quotable,
                                         c.section, defines, c.whole, c.is_list))
        scored.sort(key=lambda s: (-s.score, s.n, s.index))
        return scored

    def _candidates(self, source: Source) -> list[_Candidate]:
        """The passage's sentences, led by its heading. The heading helps choose the
        passage (a passage that continues a section no longer shows it, and a short one
        like "Rebuilding indexes" still names the subject) but is never quoted, not even
        glued to the sentence after it, as a parser may leave it."""
        cfg = self.config
        headings = [collapse_whitespace(h) for h in source.heading_path if h.strip()]
        heading = headings[-1] if headings else ""
        candidates = ([_Candidate(source.n, -1, heading, word_forms(heading), quotable=False)]
                      if heading else [])
        # A sentence splitter reads "8.1.4. Localized messages" as two sentences, so the
        # heading is also known without its number.
        forms = {*headings, *(without_section_number(h) for h in headings)}
        spans = sentence_spans(source.text)
        for index, (span, whole) in enumerate(zip(spans, whole_sentences(spans), strict=True)):
            text = strip_heading(collapse_whitespace(span.text), [*forms, source.title])
            tokens = word_forms(text)
            if (text in forms or word_count(text) < cfg.min_words or not tokens
                    or len(text) > cfg.max_sentence_chars):
                continue
            candidates.append(_Candidate(source.n, index, text, tokens,
                                         quotable=whole and not _is_question(text),
                                         section=bisect_right(source.section_starts,
                                                              span.start), whole=whole))
        return candidates + self._list_candidates(source, spans, [*forms, source.title])

    def _list_candidates(self, source: Source, spans: list[Span],
                         headings: list[str]) -> list[_Candidate]:
        """Each list that is one sentence, its lines as the document breaks them, when the
        whole of it fits `max_chars` (a cut list is no answer)."""
        candidates = []
        for run in list_sentences(source.text, spans):
            first, last = spans[run.start], spans[run.stop - 1]
            text = strip_heading(_lines(source.text[first.start:last.end]), headings)
            if len(text) <= self.config.max_chars:
                candidates.append(_Candidate(
                    source.n, run.start, text, word_forms(text),
                    section=bisect_right(source.section_starts, first.start), is_list=True))
        return candidates

    def _semantic_confidence(self, semantic: Sequence[float | None]) -> float:
        values = [v for v in semantic if v is not None]
        if not values:
            return 0.0
        if len(values) < 3:
            return 1.0  # too few sentences to judge the model; trust it
        lead = max(values) - float(np.median(values))
        cfg = self.config
        span = cfg.semantic_confident_lead - cfg.semantic_noise_lead
        return min(1.0, max(0.0, (lead - cfg.semantic_noise_lead) / span)) if span > 0 else 1.0

    def select(self, question: str, sources: Sequence[Source]) -> list[ScoredSentence]:
        """The sentences to quote, in reading order (source number, then position)."""
        cfg = self.config
        scored = self.score_sentences(question, sources)
        if not scored or scored[0].score < cfg.min_score:
            return []
        best_source = self._passage(scored, sources)
        if best_source is None:
            return []
        scored = [s for s in scored if s.quotable and (s.n == best_source
                                                       or not cfg.single_source)]
        if not scored:
            return []
        # Context for the best sentence comes from its own section: a passage joining
        # small sections ("Meal allowance", "Commuting allowance") otherwise quoted the
        # neighbouring section's look-alike sentence first, in reading order.
        scored = [s for s in scored if (s.n, s.section) == (scored[0].n, scored[0].section)
                  or not cfg.single_source]
        # A sentence defining the asked name ("Variable: VLLM_BASE_URL; ...") is not
        # explained by its neighbours defining other names: the rows of one table.
        if scored[0].defines:
            scored = [s for s in scored if s.defines or not defined_identifiers(s.text, MATCHING)]
        # A whole list is quoted when it is what answers, not as context around a better
        # answer: "How do I rebuild the indexes?" is the synopsis, not the migration steps
        # that run the command.
        scored = [scored[0], *(s for s in scored[1:] if not s.is_list)]
        # Relative to the best sentence that may be quoted: with a source_tolerance below
        # relative_cutoff, the chosen passage's own best sentence could otherwise fall
        # under the cut and nothing would be said.
        cutoff = max(cfg.min_score, scored[0].score * cfg.relative_cutoff)
        chosen: list[ScoredSentence] = []
        seen: set[str] = set()
        chars = 0
        for sentence in scored:
            if len(chosen) >= cfg.max_sentences or sentence.score < cutoff:
                break
            if sentence.text in seen or (chosen and chars + len(sentence.text) > cfg.max_chars):
                continue
            chosen.append(sentence)
            seen.add(sentence.text)
            chars += len(sentence.text)
        return sorted(chosen, key=lambda s: (s.n, s.index))

    def _passage(self, scored: list[ScoredSentence],
                 sources: Sequence[Source]) -> int | None:
        """The passage to quote: the best-ranked by retrieval whose strength (its best
        sentence's score plus `coverage_weight` times retrieval's term coverage) comes
        within `source_tolerance` of the strongest; None when that is not the strongest
        and does not hold its best sentence (retrieval and the sentences disagree, and
        one quote would be a guess)."""
        cfg = self.config
        coverage = {s.n: s.coverage or 0.0 for s in sources}
        best: dict[int, ScoredSentence] = {}
        for sentence in scored:  # best first: the first of each passage is its best
            best.setdefault(sentence.n, sentence)
        strength = {n: b.score + cfg.coverage_weight * coverage.get(n, 0.0)
                    for n, b in best.items()}
        strongest = max(strength, key=lambda n: (strength[n], -n))
        if _names_the_question(best[strongest]) or best[strongest].defines:
            return strongest
        chosen = min(n for n in strength
                     if strength[n] >= strength[strongest] * cfg.source_tolerance)
        # Overlapping passages repeat sentences: a passage holding the strongest one's best
        # sentence holds the same answer.
        agree = chosen == strongest or any(
            s.n == chosen and s.text == best[strongest].text for s in scored)
        return chosen if agree or not cfg.abstain_on_disagreement else None

    def best_score(self, question: str, sources: Sequence[Source]) -> float:
        scored = self.score_sentences(question, sources)
        return scored[0].score if scored else 0.0

    # -- answering --------------------------------------------------------------------
    def stream(self, request: AnswerRequest) -> Iterator[Event]:
        chosen = self.select(request.question, request.sources)
        prompt_tokens = self.count_tokens(request.question) + sum(
            self.count_tokens(s.text) for s in request.sources)
        if not chosen:
            text = not_found_message(request.language, request.knowledge_base or None)
            yield Delta(text)
            yield Done(Usage(prompt_tokens, self.count_tokens(text)), "not_found")
            return
        parts = []
        for i, sentence in enumerate(chosen):
            # The quote and its marker go separately: the quote is verbatim, so brackets the
            # document itself contains are never read as citations.
            quote = _separator(chosen[i - 1].text if i else None, sentence.text) + sentence.text
            marker = f" [{sentence.n}]"
            parts += [quote, marker]
            yield Delta(quote, verbatim=True)
            yield Delta(marker)
        yield Done(Usage(prompt_tokens, self.count_tokens("".join(parts))), "stop")

    def rewrite_question(self, history: Sequence[Turn], question: str) -> str:
        return carry_key_terms(history, question)


FOLLOW_UP_STARTS = ("and ", "what about", "how about", "also ", "or ", "then ", "그럼", "그러면",
                    "그리고", "또 ", "그건", "그것", "거기")


# Words that point back at what was said before ("is it free?", "그건 얼마예요?").
REFERRING_WORDS = frozenset(["it", "its", "that", "this", "these", "those", "they", "them",
                             "there", "one", "ones", "same"])
REFERRING_KOREAN = ("그것", "그거", "그건", "그게", "이것", "이거", "이건", "거기", "저것")


def is_follow_up(question: str, *, max_words: int = 6) -> bool:
    """Does the question lean on the one before? It opens like a follow-up ("and on
    Windows?", "그럼 ..."), or it is short and either points back ("is it free?") or names
    at most one thing ("Windows?"). A short question naming its own subject ("What does
    /readyz report?") stands alone: given the previous question's terms, it was answered
    with the previous answer."""
    stripped = question.strip().casefold()
    if stripped.startswith(FOLLOW_UP_STARTS):
        return True
    words = stripped.split()
    if len(words) > max_words:
        return False
    plain = {w.strip(".,;:!?\"'()[]") for w in words}
    if plain & REFERRING_WORDS or any(w.startswith(REFERRING_KOREAN) for w in plain):
        return True
    return sum(bool(match_tokens(w)) for w in words) <= 1


def carry_key_terms(history: Sequence[Turn], question: str, *, max_terms: int = 6,
                    max_words: int = 6) -> str:
    """A follow-up ("and on Windows?") gets the previous question's key terms appended, so
    retrieval sees a standalone query. Standalone questions pass through unchanged."""
    previous = next((t.content for t in reversed(history) if t.role == "user"), None)
    if not previous or not is_follow_up(question, max_words=max_words):
        return question
    present = set(match_tokens(question))
    terms: list[str] = []
    for word in previous.split():
        core = word.strip(".,;:!?\"'()[]")
        word_tokens = match_tokens(core)
        if word_tokens and not set(word_tokens) <= present and core not in terms:
            terms.append(core)
    if not terms:
        return question
    return f"{question.strip()} ({' '.join(terms[:max_terms])})"


def word_forms(text: str) -> list[str]:
    """Tokens for matching a question with a sentence: word forms merged ("rebuilding",
    "rebuilds" -> "rebuild"; "indexes" -> "index") and identifiers also by their words
    ("rebuild_indexes" -> + "rebuild", "index"), so the choice of sentence does not hinge
    on the question's exact wording."""
    tokens = []
    for token in match_tokens(text):
        words = [w for w in token.split("_") if len(w) > 1] if "_" in token else []
        tokens += [light_stem(t) for t in (token, *words)]
    return tokens


def strip_heading(sentence: str, headings: Sequence[str]) -> str:
    """The sentence without a heading glued to its start ("Rebuilding indexes Run the
    command ..." -> "Run the command ..."); unchanged when it is the heading itself or
    the words after it continue a sentence in lower case ("Python is a language." under
    the title "Python"). The rest is still a verbatim part of the source."""
    for heading in sorted({h for h in headings if h}, key=len, reverse=True):
        rest = sentence[len(heading):].lstrip(" :")
        glued = sentence.startswith(heading) and sentence[len(heading):][:1] in (" ", ":")
        if glued and rest and not rest[0].islower():
            return rest
    return sentence


def _names_the_question(best: ScoredSentence) -> bool:
    """The passage's best match is its heading (or a question it asks) holding every term
    of the question: the section is about it ("Rebuilding indexes" for "How can I rebuild
    an index?"), whatever passage retrieval ranked above it."""
    return not best.quotable and best.whole and best.lexical >= 1.0 - 1e-9


def _lines(text: str) -> str:
    """`text` with the whitespace of each line collapsed, its line breaks and blank lines
    kept: in the answer's Markdown, items that parsers gave a paragraph each ("1. ...;",
    or an HTML list's items, which lose their bullets) still show one per line."""
    paragraphs = (p for p in re.split(r"\n[ \t]*\n\s*", text) if p.strip())
    return "\n\n".join("\n".join(collapse_whitespace(line) for line in p.splitlines()
                                  if line.strip()) for p in paragraphs)


def _separator(previous: str | None, quote: str) -> str:
    """A list quoted whole stands in its own paragraph, so Markdown shows its lead-in and
    items as the document does and the next quote does not join its last item."""
    if previous is None:
        return ""
    return "\n\n" if "\n" in previous or "\n" in quote else " "


def _is_question(text: str) -> bool:
    return text.rstrip("\"'”’」』)）").endswith(("?", "？"))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
