"""What the answers tell the people who run Citewise: the console's reports (and the
Django admin's gap and usage lists), for a set of knowledge bases and a period.

Units and shapes:
- A question is one stored exchange, counted by its assistant message (every ask stores
  the question and the answer together; the answer carries not_found and the tokens).
- "Asked of" a knowledge base: the conversation named it. A question asked of two of the
  chosen knowledge bases counts once in every report, except in token usage by knowledge
  base, where it counts for each (the tokens were spent on both).
- Days are calendar days in the current time zone (settings.TIME_ZONE, or the one
  activated for the request); a Period's end day is included. Rows come back oldest day
  first, one per day of the period, days without activity as zeros.
- Feedback counts on the day it was last given (giving it again replaces it).

Cost: every report is a few aggregate queries (TruncDate, Count, Sum) whatever the number
of rows; lists are bounded by `limit` (None: all, for the CSV export). The content gap
report reads at most GAP_SAMPLE questions, the most recent, and groups them in memory
(group_questions).

Which knowledge bases a person may report on is the permission service's decision
(citewise.knowledge.permissions.editable_knowledge_bases); these functions take the
knowledge bases already allowed.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Count,
    DateField,
    Exists,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone

from citewise.chat.models import (
    Citation,
    Conversation,
    Feedback,
    Message,
    Rating,
    Role,
    UnansweredQuestion,
)
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase

GAP_SAMPLE = 500  # most recent unanswered questions the gap report groups
# Topics join while the average cosine similarity of their questions' weighted terms
# stays at least this (0-1). Tried on English and Korean paraphrases (those of
# tests/integration/test_console_reports.py among them): at 0.25 "sick days" joined
# "vacation days" and the parking garage joined parking permits; 0.3 and 0.35 agree.
GAP_SIMILARITY = 0.3
# Words of asking rather than of the subject (English beyond textproc's stop words;
# Korean content morphemes kiwi keeps): two questions sharing only these are not one topic.
QUESTION_WORDS = frozenset((
    "many", "much", "get", "take", "can", "could", "need", "want", "way", "know", "tell",
    "please", "anyone", "still",
    "어떻", "하", "있", "되", "어디", "무엇", "뭐", "얼마", "언제", "방법", "가능", "알",
    "수", "것", "좀", "저", "제", "나"))
TOPIC_TERMS = 3  # words shown as a topic's name
TOP_GROUPS = 5  # groups drawn separately in the token chart; the rest are "other"


@dataclass(frozen=True)
class Period:
    """Calendar days from `start` to `end`, both included. Raises ValueError when the end
    comes before the start."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @classmethod
    def last(cls, days: int, *, today: date | None = None) -> Period:
        """The `days` days ending today (local time)."""
        today = today or timezone.localdate()
        return cls(today - timedelta(days=days - 1), today)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[first instant, instant after the last day) in the current time zone."""
        zone = timezone.get_current_timezone()
        return (datetime.combine(self.start, time.min, zone),
                datetime.combine(self.end + timedelta(days=1), time.min, zone))


@dataclass(frozen=True)
class Scope:
    """The knowledge bases reported on (ids; None: every one, and the questions of
    deleted ones, for an admin who chose them all) and the period."""

    knowledge_base_ids: tuple[int, ...] | None
    period: Period

    @classmethod
    def of(cls, knowledge_bases: Iterable[KnowledgeBase] | None, period: Period) -> Scope:
        ids = None if knowledge_bases is None else tuple(sorted(kb.pk for kb in knowledge_bases))
        return cls(ids, period)

    def when(self, field_name: str) -> Q:
        start, end = self.period.bounds
        return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})

    def asked(self, conversation: str = "conversation_id") -> Q | Exists:
        """Rows whose conversation asked one of the knowledge bases (any, for all)."""
        if self.knowledge_base_ids is None:
            return Q()
        return conversation_asked(self.knowledge_base_ids, conversation=conversation)

    def within(self, knowledge_base: str) -> Q:
        """Rows whose knowledge base (the field `knowledge_base`) is one of the scope's."""
        if self.knowledge_base_ids is None:
            return Q()
        return Q(**{f"{knowledge_base}__in": self.knowledge_base_ids})


# --- Scoping, shared with the Django admin's lists ---------------------------------------

def conversation_asked(knowledge_base_ids: Iterable[int], *,
                       conversation: str = "conversation_id") -> Exists:
    """A condition on rows whose conversation (the field path `conversation` leads to it)
    asked one of the knowledge bases. An EXISTS probe of the many-to-many table's unique
    index per row: a period's rows are few next to all the knowledge bases'
    conversations, which an IN (subquery) would gather first; and no row repeats, as a
    join would repeat it per knowledge base."""
    through = Conversation.knowledge_bases.through
    return Exists(through.objects.filter(conversation_id=OuterRef(conversation),
                                         knowledgebase_id__in=list(knowledge_base_ids)))


def unanswered_asked(knowledge_base_ids: Iterable[int]) -> Exists:
    """A condition on the gap report's questions asked of one of the knowledge bases."""
    through = UnansweredQuestion.knowledge_bases.through
    return Exists(through.objects.filter(unansweredquestion_id=OuterRef("pk"),
                                         knowledgebase_id__in=list(knowledge_base_ids)))


def _answers(scope: Scope) -> QuerySet[Message]:
    """The period's answers asked of the scope, unordered (Message's default ordering
    would join the conversations to sort by them)."""
    return Message.objects.filter(scope.when("created_at"), role=Role.ASSISTANT).filter(
        scope.asked()).order_by()


def _day(field_name: str, period: Period) -> Func:
    """The local calendar day of a datetime column, to group by. TruncDate everywhere,
    except on SQLite when the time zone keeps one UTC offset through the period (UTC,
    Asia/Seoul, any period without a daylight-saving change): there Django's TruncDate
    calls a Python function per row, which costs more than the rest of the query, and
    SQLite's own date() with the offset gives the same days. (Fractions of a second are
    cut first: date() rounds to milliseconds, which would move 23:59:59.9996 to the
    next day.)"""
    offset = _fixed_offset(period) if connection.vendor == "sqlite" else None
    if offset is None:
        return TruncDate(field_name)
    return Func(Substr(field_name, 1, 19), Value(f"{offset:+d} minutes"), function="date",
                output_field=DateField())


def _fixed_offset(period: Period) -> int | None:
    """Minutes east of UTC of the current time zone if the same at every midnight of
    the period (and the one after it), else None."""
    zone = timezone.get_current_timezone()
    offsets = {datetime.combine(day, time.min, zone).utcoffset()
               for day in [*period.days, period.end + timedelta(days=1)]}
    if len(offsets) != 1:
        return None
    return int(offsets.pop().total_seconds() // 60)


def _per_day(rows: Iterable[dict], period: Period, *keys: str) -> list[dict]:
    """One dict per day of the period ({"day": date, key: number, ...}), zeros where the
    database had no row for the day."""
    found = {row["day"]: row for row in rows}
    return [{"day": day, **{key: (found.get(day) or {}).get(key) or 0 for key in keys}}
            for day in period.days]


# --- Questions, answered and not found ---------------------------------------------------

@dataclass(frozen=True)
class QuestionDay:
    day: date
    questions: int
    answered: int
    not_found: int
    failed: int  # the answer service failed (Message.error_code): neither of the above


def questions_per_day(scope: Scope) -> list[QuestionDay]:
    """Questions asked each day, and how many were answered, found nothing to answer
    with ("not found"; a stopped answer counts as answered) or failed. One query."""
    rows = (_answers(scope).annotate(day=_day("created_at", scope.period)).values("day")
            .annotate(questions=Count("id"), not_found=Count("id", filter=Q(not_found=True)),
                      failed=Count("id", filter=~Q(error_code=""))))
    return [QuestionDay(row["day"], row["questions"],
                        row["questions"] - row["not_found"] - row["failed"],
                        row["not_found"], row["failed"])
            for row in _per_day(rows, scope.period, "questions", "not_found", "failed")]


# --- Feedback ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedbackDay:
    day: date
    up: int
    down: int


@dataclass(frozen=True)
class FeedbackComment:
    given_at: datetime
    rating: str  # Rating value: "up" or "down"
    comment: str
    question: str  # the question the rated answer answered
    answer: str
    user: str  # username; "" when the account is gone


def _feedback(scope: Scope) -> QuerySet[Feedback]:
    return Feedback.objects.filter(scope.when("updated_at")).filter(
        scope.asked("message__conversation_id")).order_by()


def feedback_per_day(scope: Scope) -> list[FeedbackDay]:
    rows = (_feedback(scope).annotate(day=_day("updated_at", scope.period)).values("day")
            .annotate(up=Count("id", filter=Q(rating=Rating.UP)),
                      down=Count("id", filter=Q(rating=Rating.DOWN))))
    return [FeedbackDay(row["day"], row["up"], row["down"])
            for row in _per_day(rows, scope.period, "up", "down")]


def feedback_comments(scope: Scope, *, limit: int | None = None,
                      ) -> tuple[int, list[FeedbackComment]]:
    """(how many, the most recent `limit`) of the verdicts that came with a comment, each
    with its question (a subquery: the conversation's last question before the answer)."""
    rows = _feedback(scope).exclude(comment="")
    question = (Message.objects.filter(conversation_id=OuterRef("message__conversation_id"),
                                       role=Role.USER,
                                       created_at__lte=OuterRef("message__created_at"))
                .order_by("-created_at", "-pk").values("text")[:1])
    listed = (rows.annotate(question=Subquery(question))
              .values("updated_at", "rating", "comment", "question", "message__text",
                      "user__username").order_by("-updated_at", "-pk"))
    if limit is not None:
        listed = listed[:limit]
    return rows.count(), [
        FeedbackComment(row["updated_at"], row["rating"], row["comment"], row["question"] or "",
                        row["message__text"], row["user__username"] or "") for row in listed]


# --- Content gaps -----------------------------------------------------------------------

@dataclass(frozen=True)
class GapQuestion:
    question: str
    asked_at: datetime
    knowledge_bases: tuple[str, ...]  # names
    closest: tuple[str, ...]  # titles of the documents that came closest
    best_score: float | None  # the closest passage's similarity (about 0-1)


@dataclass
class Topic:
    """Questions grouped as one: `terms`, the words most of them share (the topic's name);
    `questions`, most recent first."""

    terms: list[str]
    questions: list[GapQuestion] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.questions)


@dataclass(frozen=True)
class GapReport:
    unanswered: int  # questions not found in the period
    grouped: int  # of which the most recent, at most GAP_SAMPLE, were grouped
    topics: list[Topic]  # the biggest first


def content_gaps(scope: Scope) -> GapReport:
    """The questions the documents did not answer, grouped into topics, so an admin sees
    which documents are missing. A question asked of several knowledge bases names, and
    lists the closest documents of, only those of the scope: the others may be ones the
    reader of the report may not know exist. Four queries (count, the sample, its
    knowledge bases' names, the scope's slugs) and group_questions over at most GAP_SAMPLE
    questions."""
    rows = UnansweredQuestion.objects.filter(scope.when("created_at"))
    if scope.knowledge_base_ids is not None:
        rows = rows.filter(unanswered_asked(scope.knowledge_base_ids))
    sample = list(rows.order_by("-created_at", "-pk").values_list(
        "pk", "question", "created_at", "closest_documents", "best_score")[:GAP_SAMPLE])
    through = UnansweredQuestion.knowledge_bases.through
    names: dict[int, list[str]] = {}
    for pk, name in through.objects.filter(
            scope.within("knowledgebase_id"),
            unansweredquestion_id__in=[row[0] for row in sample]).order_by(
            "knowledgebase__name").values_list("unansweredquestion_id", "knowledgebase__name"):
        names.setdefault(pk, []).append(name)
    shown = _closest_in(scope)
    questions = [GapQuestion(
        text, asked_at, tuple(names.get(pk, ())),
        tuple(item.get("title") or item.get("document", "") for item in closest or ()
              if shown(item)),
        best_score) for pk, text, asked_at, closest, best_score in sample]
    topics = [Topic(terms, [questions[i] for i in members])
              for members, terms in group_questions([q.question for q in questions])]
    return GapReport(unanswered=rows.count(), grouped=len(questions), topics=topics)


def _closest_in(scope: Scope):
    """Whether an entry of closest_documents ({document, title, url, knowledge_base
    (slug)}) is of a knowledge base of the scope."""
    if scope.knowledge_base_ids is None:
        return lambda item: True
    slugs = set(KnowledgeBase.objects.filter(pk__in=scope.knowledge_base_ids)
                .values_list("slug", flat=True))
    return lambda item: item.get("knowledge_base") in slugs


def group_questions(texts: Sequence[str]) -> list[tuple[list[int], list[str]]]:
    """Similar questions grouped into topics: [(indexes into texts, in their order; the
    topic's words)], the biggest topic first (ties: the one with the earliest index).

    Method (lexical, so a page view needs no embedding model and costs milliseconds):
    1. each question's terms are its content words by textproc's tokenizer (the lexical
       index's: English without stop words, lightly stemmed; Korean content morphemes by
       kiwi, so 휴가는/휴가를 are both 휴가), each counted once;
    2. terms are weighted by inverse document frequency over the questions grouped, so
       words most questions use ("어떻", "get") count little, and each question becomes a
       unit vector;
    3. average-linkage agglomerative clustering (scipy) on cosine distance, cut where
       the average similarity between two groups falls below GAP_SIMILARITY.
    Embeddings would also join paraphrases that share no word, but would cost seconds
    of CPU per view for GAP_SAMPLE questions, with a different model per knowledge base.
    """
    terms = [_terms(text) for text in texts]
    if len(texts) < 2:
        return [([i], list(terms[i])[:TOPIC_TERMS]) for i in range(len(texts))]
    labels, idf = _cluster(terms)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    groups = sorted(members.values(), key=lambda group: (-len(group), group[0]))
    return [(group, _topic_terms([terms[i] for i in group], idf)) for group in groups]


@functools.lru_cache(maxsize=4 * GAP_SAMPLE)
def _terms(text: str) -> dict[str, None]:
    """The question's terms, each once, in the order they come (an ordered set; the
    caller must not change it). Cached: kiwi takes about 0.2 ms a Korean question, and
    the next view of the report groups mostly the same questions."""
    from textproc.tokens import TokenizerConfig, tokenize

    return dict.fromkeys(word for word in tokenize(text, TokenizerConfig(korean="kiwi",
                                                                         stem=True))
                         if word not in QUESTION_WORDS)


def _cluster(terms: list[dict[str, None]]) -> tuple[list[int], dict[str, float]]:
    """Cluster labels (one per question) and each term's idf."""
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.sparse import csr_matrix
    from scipy.spatial.distance import squareform

    vocabulary: dict[str, int] = {}
    rows, columns = [], []
    for row, words in enumerate(terms):
        for word in words:
            rows.append(row)
            columns.append(vocabulary.setdefault(word, len(vocabulary)))
    if not vocabulary:
        return list(range(len(terms))), {}
    count = len(terms)
    idf = np.log((1 + count) / (1 + np.bincount(columns, minlength=len(vocabulary)))) + 1
    matrix = csr_matrix((idf[columns], (rows, columns)), shape=(count, len(vocabulary)))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    norms[norms == 0] = 1  # a question without terms stays a zero vector: a topic alone
    matrix = csr_matrix(matrix.multiply(1 / norms[:, None]))
    distance = np.clip(1 - (matrix @ matrix.T).toarray(), 0, 2)
    np.fill_diagonal(distance, 0)
    tree = linkage(squareform(distance, checks=False), method="average")
    labels = fcluster(tree, t=1 - GAP_SIMILARITY, criterion="distance")
    weights = {word: float(idf[column]) for word, column in vocabulary.items()}
    return [int(label) for label in labels], weights


def _topic_terms(member_terms: list[dict[str, None]], idf: dict[str, float]) -> list[str]:
    """The words at least half of a topic's questions (and two, when it has two or more)
    use: the most used first, then the rarer, then in the order the questions say them."""
    shared = Counter(word for words in member_terms for word in words)
    order: dict[str, int] = {}
    for words in member_terms:
        for word in words:
            order.setdefault(word, len(order))
    needed = 1 if len(member_terms) == 1 else max(2, (len(member_terms) + 1) // 2)
    ranked = sorted((word for word, n in shared.items() if n >= needed),
                    key=lambda word: (-shared[word], -round(idf.get(word, 0), 6), order[word]))
    return ranked[:TOPIC_TERMS]


# --- Documents cited and never cited ----------------------------------------------------

@dataclass(frozen=True)
class CitedDocument:
    document_id: int
    title: str
    knowledge_base: str
    citations: int
    answers: int  # answers citing it (an answer may cite it more than once)


@dataclass(frozen=True)
class UncitedDocument:
    document_id: int
    title: str
    knowledge_base: str
    indexed_at: datetime | None


def _citations(scope: Scope) -> QuerySet[Citation]:
    """Citations in the period's answers of documents (still there) of the scope, by the
    knowledge base stored on the citation (no join to the documents). Only answers cite;
    naming the role lets the database start from the period's answers, by the (role,
    created_at) index, rather than from every citation of the documents."""
    return Citation.objects.filter(
        scope.when("message__created_at"), scope.within("knowledge_base_id"),
        message__role=Role.ASSISTANT, document__isnull=False).order_by()


@dataclass(frozen=True)
class DocumentsReport:
    cited: list[CitedDocument]  # the first `limit`, the most cited first
    cited_count: int  # documents cited in the period
    uncited_per_knowledge_base: list[tuple[str, int]]  # (name, count), the most first
    uncited: list[UncitedDocument]  # the first `limit`, by knowledge base and title


def documents_report(scope: Scope, *, limit: int | None = None) -> DocumentsReport:
    """The documents the period's answers cited, the most cited first, and the indexed
    documents of the scope that none cited. Four queries: citations counted per document
    (read once for both lists), the titles of the cited ones listed, the scope's indexed
    documents (compared with the cited ids here), when the uncited ones listed were
    indexed. (Left to the database, NOT EXISTS per document took over a minute on SQLite,
    and PostgreSQL re-runs a NOT IN subquery per document unless it expects the ids to fit
    in work_mem: 5 s for 1,000 documents before its statistics were gathered; measured on
    benchmarks/console_reports.py's data.)"""
    counts = list(_citations(scope).values_list("document_id").annotate(
        citations=Count("id"), answers=Count("message_id", distinct=True)).order_by(
        "-citations", "-answers", "document_id"))
    top = counts if limit is None else counts[:limit]
    # in_bulk splits a long list of ids into queries the database accepts.
    titles = Document.objects.select_related("knowledge_base").only(
        "title", "knowledge_base__name").in_bulk([pk for pk, _, _ in top])
    cited = [CitedDocument(pk, titles[pk].title, titles[pk].knowledge_base.name, n, answers)
             for pk, n, answers in top if pk in titles]
    cited_ids = {pk for pk, _, _ in counts}
    uncited = [row for row in Document.objects.filter(
        scope.within("knowledge_base_id"), status=DocumentStatus.INDEXED).values_list(
        "knowledge_base__name", "pk", "title").order_by("knowledge_base__name", "title", "pk")
        if row[1] not in cited_ids]
    per_kb = Counter(name for name, _, _ in uncited)
    listed = uncited if limit is None else uncited[:limit]
    indexed = Document.objects.only("indexed_at").in_bulk([pk for _, pk, _ in listed])
    return DocumentsReport(
        cited, len(counts), sorted(per_kb.items(), key=lambda item: (-item[1], item[0])),
        [UncitedDocument(pk, title, name, getattr(indexed.get(pk), "indexed_at", None))
         for name, pk, title in listed])


# --- Token usage ------------------------------------------------------------------------

USAGE_GROUPS = ("user", "knowledge_base", "api_key")

# What each grouping groups by: (key field, label fields), through the answer's conversation.
_GROUP_FIELDS = {
    "user": ("conversation__user_id", ("conversation__user__username",)),
    "knowledge_base": ("conversation__knowledge_bases__id",
                       ("conversation__knowledge_bases__name",)),
    "api_key": ("conversation__api_key_id", ("conversation__api_key__name",
                                             "conversation__api_key__prefix")),
}


@dataclass(frozen=True)
class UsageRow:
    """One user, knowledge base or API key (key None: no API key, i.e. the web chat or
    a deleted key; no user, i.e. an anonymous asker)."""

    key: int | None
    label: str
    answers: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class UsageReport:
    rows: list[UsageRow]  # every group, the most tokens first
    days: list[date]
    # Tokens (prompt + completion) per day of the TOP_GROUPS biggest groups, in rows'
    # order, then of all the others together (absent when there are none).
    top: list[UsageRow]
    per_day: list[list[int]]
    other_per_day: list[int] | None


def token_usage(scope: Scope, by: str) -> UsageReport:
    """Prompt and completion tokens of the period's answers grouped `by` "user",
    "knowledge_base" or "api_key" (ValueError otherwise), and per day for the chart. One
    query, grouped by day and group; the totals are summed here."""
    if by not in _GROUP_FIELDS:
        raise ValueError(f"by must be one of {', '.join(USAGE_GROUPS)}")
    key, labels = _GROUP_FIELDS[by]
    totals: dict[int | None, list[int]] = {}  # key: [answers, prompt, completion]
    names: dict[int | None, str] = {}
    daily: Counter = Counter()  # (day, key): prompt + completion tokens
    every_group: Counter = Counter()  # day: prompt + completion tokens
    rows = (_usage_answers(scope, by).annotate(day=_day("created_at", scope.period))
            .values("day", key, *labels)
            .annotate(answers=Count("id"), prompt=Sum("prompt_tokens"),
                      completion=Sum("completion_tokens"))
            .values_list("day", key, "answers", "prompt", "completion", *labels))
    for day, group, answers, prompt, completion, *label in rows:  # tuples: rows are many
        numbers = totals.setdefault(group, [0, 0, 0])
        numbers[0] += answers
        numbers[1] += prompt or 0
        numbers[2] += completion or 0
        names[group] = " · ".join(str(part) for part in label if part)
        tokens = (prompt or 0) + (completion or 0)
        daily[day, group] += tokens
        every_group[day] += tokens
    rows = sorted((UsageRow(group, names[group], *numbers) for group, numbers in totals.items()),
                  key=lambda row: (-row.total_tokens, row.label))
    top, days = rows[:TOP_GROUPS], scope.period.days
    per_day = [[daily[day, row.key] for day in days] for row in top]
    other = None
    if len(rows) > len(top):
        other = [every_group[day] - sum(series[n] for series in per_day)
                 for n, day in enumerate(days)]
    return UsageReport(rows, days, top, per_day, other)


def _usage_answers(scope: Scope, by: str) -> QuerySet[Message]:
    if by != "knowledge_base":
        return _answers(scope)
    # Joined (not a subquery), so that each answer counts for each chosen knowledge base
    # it asked; the grouping reuses this join.
    return Message.objects.filter(scope.when("created_at"), scope.within(
        "conversation__knowledge_bases"), role=Role.ASSISTANT,
        conversation__knowledge_bases__isnull=False).order_by()


def usage_per_knowledge_base_and_backend(since: datetime) -> list[dict]:
    """Answers since `since` per (knowledge base, backend), for `manage.py usage_report`:
    [{"knowledge_base": slug, "backend", "answers", "not_found", "prompt_tokens",
    "completion_tokens"}] by slug then backend; an answer drawn from two knowledge bases
    counts for both ("" for the knowledge base of a conversation whose ones are gone)."""
    rows = (Message.objects.filter(role=Role.ASSISTANT, created_at__gte=since)
            .values("conversation__knowledge_bases__slug", "backend")
            .annotate(answers=Count("id"), not_found=Count("id", filter=Q(not_found=True)),
                      prompt_tokens=Sum("prompt_tokens"),
                      completion_tokens=Sum("completion_tokens"))
            .order_by("conversation__knowledge_bases__slug", "backend"))
    return [{"knowledge_base": row["conversation__knowledge_bases__slug"] or "",
             "backend": row["backend"] or "", "answers": row["answers"],
             "not_found": row["not_found"], "prompt_tokens": row["prompt_tokens"] or 0,
             "completion_tokens": row["completion_tokens"] or 0} for row in rows]
