"""Checks every cited sentence of an answer against the sources it cites.

Support is lexical (the sentence is contained in the source, or most of its content
tokens are), semantic (cosine similarity between the sentence and the closest sentence
of the source, with an embed function passed in) and, when configured, an entailment
callable (premise, hypothesis) -> probability. A sentence that states something (a
"claim") is supported when at least one of its cited sources supports it; the answer is
`grounded` when every claim has a supported citation.

A list that is one sentence (textproc.sentences.list_sentences: a lead-in closed by a
colon, items closed by semicolons or commas) carries one marker, after its last item; its
other lines are checked against the sources that marker cites.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from inference.citations import Citation
from inference.languages import is_not_found
from inference.sources import Source
from textproc.normalize import fold
from textproc.sentences import (
    CITATION_MARKER,
    list_sentences,
    sentence_spans,
    split_sentences,
)
from textproc.tokens import match_tokens

EmbedTexts = Callable[[list[str]], "np.ndarray | Sequence[Sequence[float]]"]
Entail = Callable[[str, str], float]

_MARKER = re.compile(CITATION_MARKER)
MIN_CLAIM_TOKENS = 3


@dataclass(frozen=True)
class Support:
    n: int
    supported: bool
    lexical: float  # 1.0 when contained; else the share of the sentence's tokens in the source
    semantic: float | None
    entailment: float | None
    snippet: str  # the source sentence closest to the answer sentence


@dataclass(frozen=True)
class SentenceCheck:
    text: str  # without markers
    start: int  # span in the answer text (markers included)
    end: int
    cited: tuple[int, ...]
    claim: bool
    supported: bool  # a claim with at least one supporting citation (True for non-claims)
    support: tuple[Support, ...] = ()


@dataclass(frozen=True)
class Verification:
    sentences: list[SentenceCheck]
    grounded: bool
    citation_supported: dict[int, bool] = field(default_factory=dict)  # per source number
    snippets: dict[int, str] = field(default_factory=dict)  # best supporting text per source

    @property
    def unsupported(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.claim and not s.supported]


@dataclass(frozen=True)
class VerifierConfig:
    lexical_threshold: float = 0.6
    semantic_threshold: float = 0.65
    entailment_threshold: float = 0.5


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text).strip()


def is_claim(sentence: str) -> bool:
    """A sentence that states something checkable: enough content, not a question, not a
    "not found" reply."""
    if is_not_found(sentence) or sentence.rstrip().endswith(("?", "？")):
        return False
    return len(match_tokens(sentence)) >= MIN_CLAIM_TOKENS


def contains(source_text: str, sentence: str) -> bool:
    """The sentence is a quote of the source (case, width and whitespace aside)."""
    sentence_norm = fold(sentence).rstrip(".。!?")
    return bool(sentence_norm) and sentence_norm in fold(source_text)


def lexical_support(sentence: str, source_text: str) -> float:
    if contains(source_text, sentence):
        return 1.0
    tokens = set(match_tokens(sentence))
    if not tokens:
        return 0.0
    return len(tokens & set(match_tokens(source_text))) / len(tokens)


class Verifier:
    def __init__(self, *, embed: EmbedTexts | None = None, entail: Entail | None = None,
                 config: VerifierConfig | None = None) -> None:
        self.embed = embed
        self.entail = entail
        self.config = config or VerifierConfig()

    def verify(self, text: str, citations: Sequence[Citation],
               sources: Sequence[Source]) -> Verification:
        by_n = {s.n: s for s in sources}
        spans = sentence_spans(text)
        cited = _cited_per_sentence(text, spans, citations, by_n)
        texts = [strip_markers(span.text) for span in spans]
        semantic = self._semantic(texts, cited, by_n)
        checks: list[SentenceCheck] = []
        for i, span in enumerate(spans):
            if not texts[i]:
                continue
            claim = is_claim(texts[i])
            supports = tuple(self._support(texts[i], by_n[n], semantic.get((i, n)))
                             for n in cited[i])
            supported = (not claim) or any(s.supported for s in supports)
            checks.append(SentenceCheck(texts[i], span.start, span.end, tuple(cited[i]), claim,
                                        supported, supports))
        per_source: dict[int, bool] = {}
        snippets: dict[int, tuple[float, str]] = {}
        for check in checks:
            for s in check.support:
                # A citation is supported only if it supports every claim that cites it:
                # one sentence its passage does not back marks it, so the person reading
                # checks the passage (before, a second, supported sentence hid it).
                ok = s.supported or not check.claim
                per_source[s.n] = per_source.get(s.n, True) and ok
                strength = max(s.lexical, s.semantic or 0.0)
                if s.n not in snippets or strength > snippets[s.n][0]:
                    snippets[s.n] = (strength, s.snippet)
        grounded = bool(checks) and all(c.supported for c in checks) and any(
            c.claim for c in checks)
        return Verification(checks, grounded, per_source, {n: v[1] for n, v in snippets.items()})

    def _semantic(self, texts: list[str], cited: list[list[int]],
                  by_n: dict[int, Source]) -> dict[tuple[int, int], tuple[float, str]]:
        """(sentence index, source number) -> (best cosine, closest source sentence)."""
        pairs = [(i, n) for i, ns in enumerate(cited) for n in ns if texts[i]]
        if not pairs:
            return {}
        numbers = sorted({n for _, n in pairs})
        source_sentences = {n: split_sentences(by_n[n].text) or [by_n[n].text]
                            for n in numbers}
        if self.embed is None:
            return {(i, n): (float("nan"), _closest_lexical(texts[i], source_sentences[n]))
                    for i, n in pairs}
        answer_indexes = sorted({i for i, _ in pairs})
        batch = [texts[i] for i in answer_indexes]
        offsets: dict[int, tuple[int, int]] = {}
        for n in numbers:
            offsets[n] = (len(batch), len(batch) + len(source_sentences[n]))
            batch.extend(source_sentences[n])
        vectors = _unit(np.asarray(self.embed(batch), dtype=np.float32))
        row = {i: k for k, i in enumerate(answer_indexes)}
        result: dict[tuple[int, int], tuple[float, str]] = {}
        for i, n in pairs:
            lo, hi = offsets[n]
            sims = vectors[lo:hi] @ vectors[row[i]]
            best = int(np.argmax(sims))
            result[(i, n)] = (float(sims[best]), source_sentences[n][best])
        return result

    def _support(self, sentence: str, source: Source,
                 semantic: tuple[float, str] | None) -> Support:
        lexical = lexical_support(sentence, source.text)
        cosine = None if semantic is None or np.isnan(semantic[0]) else semantic[0]
        snippet = semantic[1] if semantic else _closest_lexical(
            sentence, split_sentences(source.text) or [source.text])
        quoted = contains(source.text, sentence)
        entailment = None
        if self.entail is not None and not quoted:
            entailment = float(self.entail(source.text, sentence))
        cfg = self.config
        if quoted:
            supported = True
        elif entailment is not None:
            supported = entailment >= cfg.entailment_threshold
        else:
            supported = lexical >= cfg.lexical_threshold or (
                cosine is not None and cosine >= cfg.semantic_threshold)
        return Support(source.n, supported, lexical, cosine, entailment, snippet)


def _cited_per_sentence(text: str, spans: Sequence, citations: Sequence[Citation],
                        by_n: Mapping[int, Source]) -> list[list[int]]:
    """The source numbers each sentence span cites (known sources only, in order, once)."""
    cited: list[list[int]] = [[] for _ in spans]
    for citation in citations:
        index = _span_index(spans, citation.start)
        if index is None:
            continue
        for n in citation.numbers:
            if n in by_n and n not in cited[index]:
                cited[index].append(n)
    # Merge citations of a sentence-less marker line ("[1]" alone) into the sentence
    # before it.
    for i in range(1, len(spans)):
        if not strip_markers(spans[i].text) and cited[i]:
            cited[i - 1].extend(n for n in cited[i] if n not in cited[i - 1])
            cited[i] = []
    # A line of a list that is one sentence without a marker of its own belongs to the
    # next marker in the list (normally the one after its last item), else the one before.
    for run in list_sentences(text, spans):
        for order in (reversed(run), run):
            nearest: list[int] = []
            for i in order:
                cited[i] = cited[i] or list(nearest)
                nearest = cited[i]
    return cited


def _span_index(spans: Sequence, offset: int) -> int | None:
    for i, span in enumerate(spans):
        if span.start <= offset < span.end:
            return i
    for i in range(len(spans) - 1, -1, -1):  # a marker in trailing whitespace
        if spans[i].start <= offset:
            return i
    return None


def _closest_lexical(sentence: str, candidates: list[str]) -> str:
    return max(candidates, key=lambda c: lexical_support(sentence, c))


def _unit(vectors: np.ndarray) -> np.ndarray:
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
