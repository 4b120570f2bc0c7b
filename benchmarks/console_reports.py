"""The console at scale: server time and query count of each report page, and of the
other console pages (knowledge bases, a knowledge base's documents, a document, the audit
log), on a database of 10,000 documents, 100,000 questions and 100,000 audit events
(target: under 300 ms each).

    .venv/bin/python benchmarks/console_reports.py [--documents 10000]
        [--questions 100000] [--repeat 5] [--no-write]

A fresh database is made the way the test suite makes one (Django's test database
creation and migrations), then filled with bulk_create: knowledge bases, documents
(indexed), conversations with their questions and answers spread over the last 365 days
(15% not found, each answer citing one to three documents, 4% rated, a third of those
with a comment), the not-found questions in the gap report, users and API keys. SQLite
(a file in a temporary folder) by default; with DATABASE_URL set, PostgreSQL: the
database created is citewise_bench_reports_<pid>, dropped at the end. PostgreSQL's
planner statistics are gathered (ANALYZE) after the fill, as autovacuum keeps them in a
live database; without them, right after the bulk load, it chose plans up to 90 times
slower (5 s for one knowledge base's documents, before uncited_documents compared ids
in Python). SQLite is measured as Django leaves it, without ANALYZE.

Each page is requested with Django's test client as an admin (every knowledge base
allowed) after one warm-up request, --repeat times; server time is the client call's
wall time (middleware, view, queries, template: all of it but the network), the median
and the slowest reported, with the number of queries of one request.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300

KNOWLEDGE_BASES = [("인사 규정", "hr-ko"), ("IT help desk", "it"),
                   ("Security handbook", "security"), ("재무 규정", "finance-ko"),
                   ("Facilities", "facilities"), ("Legal", "legal"), ("영업 자료", "sales-ko"),
                   ("Engineering wiki", "engineering"), ("Benefits", "benefits"),
                   ("고객 지원", "support-ko")]
SUBJECTS_EN = ["vacation days", "parking permit", "VPN access", "expense report", "laptop refresh",
               "badge replacement", "travel booking", "sick leave", "printer setup",
               "password reset", "remote work", "meeting rooms", "health insurance",
               "training budget", "visitor badges", "shipping address", "purchase order",
               "code review", "on-call rota", "security incident"]
SUBJECTS_KO = ["연차 휴가", "법인카드", "재택근무", "출장비 정산", "건강검진", "사내 교육",
               "보안 교육", "회의실 예약", "주차 등록", "복지 포인트", "야근 식대", "경조사 휴가",
               "퇴직금", "성과 평가", "노트북 교체", "택배 수령", "출입증 재발급", "육아 휴직",
               "이메일 설정", "비밀번호 변경"]
TEMPLATES_EN = ["How do I request {}?", "Where can I find the {} policy?", "Who approves {}?",
                "What is the deadline for {}?", "Is there a form for {}?"]
TEMPLATES_KO = ["{}은 어떻게 신청하나요?", "{} 규정은 어디에 있나요?", "{} 승인은 누가 하나요?",
                "{} 마감일이 언제인가요?", "{} 신청서 양식이 있나요?"]
COMMENTS = ["Outdated", "Wrong department", "Exactly what I needed", "링크가 깨졌어요",
            "답변이 너무 길어요", "Cited the wrong page", "도움이 되었습니다", ""]


def question(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(TEMPLATES_EN).format(rng.choice(SUBJECTS_EN))
    return rng.choice(TEMPLATES_KO).format(rng.choice(SUBJECTS_KO))


# ----- the database ------------------------------------------------------------------------

def setup_django() -> None:
    for path in (ROOT, ROOT / "platform"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    data_dir = tempfile.mkdtemp(prefix="citewise-bench-reports-")
    os.environ["CITEWISE_DATA_DIR"] = data_dir
    os.environ.setdefault("CITEWISE_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "citewise.settings"
    import django
    from django.conf import settings
    from django.db import connection

    django.setup()
    database = connection.settings_dict
    database["TEST"]["NAME"] = (f"citewise_bench_reports_{os.getpid()}"
                                if database["ENGINE"].endswith("postgresql")
                                else str(Path(data_dir) / "bench.sqlite3"))
    settings.ALLOWED_HOSTS = ["testserver"]


def fill(*, documents: int, questions: int, seed: int = 7) -> dict:
    """Rows as the product stores them, created in bulk; returns what was made."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from citewise.accounts.models import ApiKey
    from citewise.chat.models import (
        Citation,
        Conversation,
        Feedback,
        Message,
        Role,
        UnansweredQuestion,
    )
    from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase

    rng = random.Random(seed)  # noqa: S311 (made-up rows, the same every run)
    now = timezone.now()
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"user{n}", password="!")  # noqa: S106 ("!": unusable)
         for n in range(300)])
    kbs = KnowledgeBase.objects.bulk_create(
        [KnowledgeBase(name=name, slug=slug) for name, slug in KNOWLEDGE_BASES])
    keys = [ApiKey.objects.create_key(owner=rng.choice(users), name=f"bot {n}")[0]
            for n in range(20)]
    docs = Document.objects.bulk_create(
        [Document(knowledge_base=kbs[n % len(kbs)], title=f"Document {n:05d}",
                  original_name=f"document-{n:05d}.pdf", sha256=f"{n:064x}",
                  stored_path=f"originals/{n}", status=DocumentStatus.INDEXED, indexed_at=now)
         for n in range(documents)], batch_size=2000)
    docs_of = {kb.pk: [d for d in docs if d.knowledge_base_id == kb.pk] for kb in kbs}
    with _timestamps_as_given(Conversation, Message, Feedback, UnansweredQuestion), \
            transaction.atomic():
        conversations, asked = [], []
        for n in range(questions // 2):
            when = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
            conversations.append(Conversation(
                user=rng.choice(users), api_key=rng.choice(keys) if rng.random() < 0.2 else None,
                title=f"c{n}", created_at=when, updated_at=when))
            asked.append(rng.sample(kbs, 2 if rng.random() < 0.1 else 1))
        conversations = Conversation.objects.bulk_create(conversations, batch_size=5000)
        through = Conversation.knowledge_bases.through
        through.objects.bulk_create([through(conversation_id=c.pk, knowledgebase_id=kb.pk)
                                     for c, chosen in zip(conversations, asked, strict=True)
                                     for kb in chosen], batch_size=5000)
        messages, answers = [], []
        for conversation, chosen in zip(conversations, asked, strict=True):
            for turn in range(2):
                when = conversation.created_at + timedelta(minutes=turn)
                text, not_found = question(rng), rng.random() < 0.15
                messages.append(Message(conversation=conversation, role=Role.USER, text=text,
                                        created_at=when))
                answer = Message(conversation=conversation, role=Role.ASSISTANT,
                                 text="An answer [1].", not_found=not_found, created_at=when,
                                 prompt_tokens=rng.randint(500, 3000),
                                 completion_tokens=rng.randint(50, 400))
                messages.append(answer)
                answers.append((answer, text, chosen))
        Message.objects.bulk_create(messages, batch_size=5000)
        citations, feedback, gaps = [], [], []
        for answer, text, chosen in answers:
            if answer.not_found:
                gaps.append((UnansweredQuestion(question=text, created_at=answer.created_at,
                                                best_score=rng.random() / 2), chosen))
                continue
            pool = docs_of[chosen[0].pk]
            for n, doc in enumerate(rng.sample(pool, min(len(pool), rng.randint(1, 3))),
                                    start=1):
                citations.append(Citation(message=answer, n=n, document=doc,
                                          knowledge_base_id=doc.knowledge_base_id,
                                          document_name=doc.original_name, title=doc.title,
                                          snippet="..."))
            if rng.random() < 0.04:
                feedback.append(Feedback(
                    message=answer, user=answer.conversation.user,
                    rating=rng.choice(["up", "down"]),
                    comment=rng.choice(COMMENTS) if rng.random() < 0.33 else "",
                    created_at=answer.created_at, updated_at=answer.created_at))
        Citation.objects.bulk_create(citations, batch_size=5000)
        Feedback.objects.bulk_create(feedback, batch_size=5000)
        rows = UnansweredQuestion.objects.bulk_create([gap for gap, _ in gaps], batch_size=5000)
        gap_through = UnansweredQuestion.knowledge_bases.through
        gap_through.objects.bulk_create(
            [gap_through(unansweredquestion_id=row.pk, knowledgebase_id=kb.pk)
             for row, (_, chosen) in zip(rows, gaps, strict=True) for kb in chosen],
            batch_size=5000)
    events = _audit_events(rng, users, kbs, docs, now)
    return {"documents": len(docs), "questions": len(answers), "citations": len(citations),
            "audit_events": events,
            "feedback": len(feedback), "unanswered": len(rows), "knowledge_bases": len(kbs),
            "users": len(users), "api_keys": len(keys)}


def _audit_events(rng: random.Random, users, kbs, docs, now, count: int = 100_000) -> int:
    """A year of sign-ins, uploads and changes, as record() writes them."""
    from citewise.audit.models import Action, AuditEvent

    actions = [Action.SIGN_IN, Action.SIGN_IN, Action.DOCUMENT_UPLOADED, Action.ACCESS_CHANGED,
               Action.KNOWLEDGE_BASE_CHANGED, Action.SIGN_IN_FAILED]
    events = []
    for n in range(count):
        user, action, doc = rng.choice(users), rng.choice(actions), rng.choice(docs)
        events.append(AuditEvent(
            action=action, user=user, actor=user.username, address="10.0.0.7",
            target_type="document", target_id=str(doc.pk), target=doc.title,
            knowledge_base_id=doc.knowledge_base_id,
            before={"reader_users": []} if action == Action.ACCESS_CHANGED else None,
            after={"reader_users": [user.username]} if action == Action.ACCESS_CHANGED else None,
            created_at=now - timedelta(seconds=n * 300)))
    with _timestamps_as_given(AuditEvent):
        AuditEvent.objects.bulk_create(events, batch_size=5000)
    return count


def console_pages() -> list[tuple[str, str]]:
    """(what, URL) of the console's other pages: no period to choose."""
    from citewise.knowledge.models import Document

    document = Document.objects.filter(knowledge_base__slug="it").order_by("pk").first()
    return [("knowledge bases", "/console/"),
            ("documents of one knowledge base", "/console/knowledge-bases/it/documents/"),
            ("documents, searched by name",
             "/console/knowledge-bases/it/documents/?q=Document+0001"),
            ("a document's page", f"/console/knowledge-bases/it/documents/{document.pk}/"),
            ("audit log", "/console/audit/"),
            ("audit log, one person", "/console/audit/?person=user7")]


class _timestamps_as_given:
    """auto_now/auto_now_add switched off while filling, so rows keep the past times
    given (bulk_create would otherwise stamp them all with now)."""

    def __init__(self, *models) -> None:
        self.fields = [f for model in models for f in model._meta.concrete_fields
                       if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]

    def __enter__(self) -> None:
        self.saved = [(f, f.auto_now, f.auto_now_add) for f in self.fields]
        for f in self.fields:
            f.auto_now = f.auto_now_add = False

    def __exit__(self, *exc: object) -> None:
        for f, auto_now, auto_now_add in self.saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


# ----- the measurement ---------------------------------------------------------------------

def pages() -> list[tuple[str, str]]:
    """(what, URL) of every report page measured."""
    urls = [("questions", "/console/reports/questions/"),
            ("answered / not found", "/console/reports/answers/"),
            ("feedback", "/console/reports/feedback/"),
            ("content gaps", "/console/reports/gaps/"),
            ("documents", "/console/reports/documents/"),
            ("tokens by user", "/console/reports/usage/?by=user"),
            ("tokens by knowledge base", "/console/reports/usage/?by=knowledge_base"),
            ("tokens by API key", "/console/reports/usage/?by=api_key")]
    return urls


def measure(client, url: str, repeat: int, *, before=None) -> dict:
    """Server time of `url` (ms: p50, max) and its queries; `before()` runs before each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm-up: templates compiled, the tokenizer's model loaded
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {"p50": statistics.median(times), "max": max(times), "queries": len(queries)}


def run(repeat: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    client = Client()
    client.force_login(get_user_model().objects.create_superuser("bench-admin", "", "pw"))
    today = timezone.localdate()
    year = f"start={today - timedelta(days=364)}&end={today}"
    results = []
    for period, query in (("30 days", ""), ("90 days", "days=90"), ("365 days", year),
                          ("30 days, one knowledge base", "kb=it")):
        for what, url in pages():
            full = url + ("&" if "?" in url else "?") + query if query else url
            log(f"{what}: {period}")
            results.append({"page": what, "period": period, "url": full,
                            **measure(client, full, repeat)})
    for what, url in console_pages():
        log(what)
        results.append({"page": what, "period": "", "url": url,
                        **measure(client, url, repeat)})
    # The gap report caches each question's terms; a page of new questions tokenizes them.
    from citewise.chat.reports import _terms

    log("content gaps, terms not cached")
    results.append({"page": "content gaps, no term cached", "period": "30 days",
                    "url": "/console/reports/gaps/",
                    **measure(client, "/console/reports/gaps/", repeat,
                              before=_terms.cache_clear)})
    return results


def report(facts: dict, results: list[dict], command: str, database: str, fill_s: float) -> str:
    from benchmarks.answer_quality import machine_facts

    presets = [r for r in results if r["period"] != "365 days"]
    year = [r for r in results if r["period"] == "365 days"]
    slowest, slowest_year = (max(rows, key=lambda r: r["p50"]) for rows in (presets, year))
    verdict = "all under" if all(r["max"] < TARGET_MS for r in presets) else "NOT all under"
    lines = [
        f"### Report pages at {facts['documents']:,} documents and {facts['questions']:,} "
        f"questions ({database})", "",
        f"Command: `{command}` ({datetime.now():%Y-%m-%d %H:%M}). Machine: {machine_facts()}.",
        "",
        f"Database: {facts['knowledge_bases']} knowledge bases, {facts['documents']:,} indexed "
        f"documents, {facts['questions']:,} questions over 365 days "
        f"({facts['unanswered']:,} not found, in the gap report), {facts['citations']:,} "
        f"citations, {facts['feedback']:,} ratings, {facts['users']} users, "
        f"{facts['api_keys']} API keys; filled with bulk_create in {fill_s:.0f} s.", "",
        f"Server time of one request (Django test client, in-process; median and slowest of "
        f"the repeats) and its queries. Target {TARGET_MS} ms at the 30- and 90-day presets: "
        f"**{verdict}** (slowest median {slowest['p50']:.0f} ms, {slowest['page']}, "
        f"{slowest['period']}). Over a whole year, the longest period a person may choose: "
        f"slowest median {slowest_year['p50']:.0f} ms ({slowest_year['page']}).",
        "", "| page | period | p50 ms | max ms | queries |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['page']} | {r['period']} | {r['p50']:.0f} | {r['max']:.0f} | "
              f"{r['queries']} |" for r in results]
    return "\n".join(lines) + "\n"


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from benchmarks.answer_quality import command_line, write_section

    setup_test_environment()
    database = connection.settings_dict["ENGINE"].rsplit(".", 1)[-1]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        began = time.perf_counter()
        log(f"filling a fresh {database} database")
        facts = fill(documents=args.documents, questions=args.questions)
        fill_s = time.perf_counter() - began
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        results = run(args.repeat)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    command = command_line("benchmarks/console_reports.py")
    if database == "postgresql":
        command = "DATABASE_URL=postgres://... " + command
    text = report(facts, results, command, database, fill_s)
    print(text)
    if not args.no_write:
        write_section(f"console-reports-{database}", text, ROOT / "benchmarks" / "RESULTS.md")


if __name__ == "__main__":
    main()
