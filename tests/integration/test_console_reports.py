"""The console's reports (/console/reports/): each report's numbers are the rows' numbers,
filtered by knowledge base and period; the CSV export is that table for Excel; the gap
report groups similar questions; an editor reports on their knowledge bases only."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.test import Client
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
from tests.factories import make_kb, make_user

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def signed_in(user, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def at(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(hour),
                            timezone.get_current_timezone())


def exchange(user, kbs, question: str, *, days_ago: int = 0, not_found: bool = False,
             tokens: tuple[int, int] = (0, 0), api_key=None, cites=()) -> Message:
    """A question and its answer as the ask service stores them, `days_ago` at noon."""
    conversation = Conversation.objects.create(user=user, api_key=api_key, title=question)
    conversation.knowledge_bases.set(kbs)
    asked = Message.objects.create(conversation=conversation, role=Role.USER, text=question)
    answer = Message.objects.create(conversation=conversation, role=Role.ASSISTANT,
                                    text=f"Answer to {question}", not_found=not_found,
                                    prompt_tokens=tokens[0], completion_tokens=tokens[1])
    Message.objects.filter(pk__in=[asked.pk, answer.pk]).update(created_at=at(days_ago))
    for n, document in enumerate(cites, start=1):
        Citation.objects.create(message=answer, n=n, document=document,
                                knowledge_base=document.knowledge_base,
                                document_name=document.original_name, title=document.title,
                                snippet="...")
    return answer


def unanswered(question: str, kbs, *, days_ago: int = 0) -> None:
    gap = UnansweredQuestion.objects.create(question=question, closest_documents=[
        {"document": "faq.md", "title": "FAQ"}])
    gap.knowledge_bases.set(kbs)
    UnansweredQuestion.objects.filter(pk=gap.pk).update(created_at=at(days_ago))


def document(kb, title: str) -> Document:
    return Document.objects.create(knowledge_base=kb, title=title, original_name=f"{title}.md",
                                   sha256=title, stored_path=title,
                                   status=DocumentStatus.INDEXED, indexed_at=at(100))


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads UTF-8 (Korean) only after a BOM
    return list(csv.reader(io.StringIO(body[1:])))


def by_day(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in rows[1:] if any(cell not in ("0", "") for cell in row[1:])}


def iso(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


@pytest.fixture
def hr():
    return make_kb("hr")


@pytest.fixture
def it():
    return make_kb("it")


@pytest.fixture
def admin():
    return make_user("boss", superuser=True)


def test_questions_answered_and_not_found_per_day_match_the_rows(admin, hr, it):
    asker = make_user("asker")
    for question in ("Leave?", "Sick days?"):
        exchange(asker, [hr], question, days_ago=2)
    exchange(asker, [hr], "Parking?", days_ago=2, not_found=True)
    exchange(asker, [hr, it], "VPN and leave?", days_ago=0)  # two knowledge bases: once
    exchange(asker, [it], "Printer?", days_ago=0, not_found=True)
    exchange(asker, [hr], "Long ago?", days_ago=40)
    failed = exchange(asker, [it], "Wiki?", days_ago=0)  # the answer service failed
    Message.objects.filter(pk=failed.pk).update(error_code="llm_unreachable")
    client = signed_in(admin)

    assert by_day(csv_rows(client.get("/console/reports/questions/csv/?table=days"))) == {
        iso(2): ["3"], iso(0): ["3"]}
    answers = csv_rows(client.get("/console/reports/answers/csv/?table=days&days=7"))
    assert answers[0] == ["Day", "Answered", "Not found", "Not found (%)", "Failed"]
    assert by_day(answers) == {iso(2): ["2", "1", "33.3", "0"],
                               iso(0): ["1", "1", "33.3", "1"]}

    # The knowledge base filter, and a period given by its dates.
    hr_only = csv_rows(client.get(f"/console/reports/answers/csv/?table=days&kb=hr"
                                  f"&start={iso(45)}&end={iso(1)}"))
    assert by_day(hr_only) == {iso(40): ["1", "0", "0.0", "0"], iso(2): ["2", "1", "33.3", "0"]}
    assert hr_only[1][0] == iso(45)  # every day from the first, quiet ones as zeros

    page = client.get("/console/reports/answers/?days=7")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg class="chart" role="img"' in html and "<desc id=" in html
    assert "Answered: 3 in all." in html and "Not found: 2 in all." in html


def test_a_period_that_ends_before_it_starts_is_explained(admin):
    page = signed_in(admin).get(f"/console/reports/?start={iso(1)}&end={iso(5)}")
    assert page.status_code == 200
    assert "The period ends before it starts." in page.content.decode()


def test_the_csv_is_for_excel_in_korean_too(admin):
    kb = KnowledgeBase.objects.create(name="인사 규정", slug="hr-ko")
    exchange(make_user("minji"), [kb], "연차는 며칠인가요?", days_ago=1)
    document(kb, "휴가 규정")
    response = signed_in(admin, "ko").get("/console/reports/documents/csv/?table=uncited")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    start, end = (TODAY - timedelta(days=29)).strftime("%Y%m%d"), TODAY.strftime("%Y%m%d")
    assert response["Content-Disposition"] == (
        f'attachment; filename="citewise-documents-uncited-{start}-{end}.csv"')
    rows = csv_rows(response)
    assert rows[0] == ["문서", "지식 베이스", "색인된 시각"]
    assert rows[1][:2] == ["휴가 규정", "인사 규정"]


def test_a_cell_cannot_start_a_spreadsheet_formula(admin, hr):
    unanswered("=HYPERLINK(\"http://evil.example\")", [hr])
    rows = csv_rows(signed_in(admin).get("/console/reports/gaps/csv/?table=topics"))
    assert rows[1][3] == "'=HYPERLINK(\"http://evil.example\")"


def test_feedback_per_day_and_its_comments(admin, hr, it):
    alice, bob = make_user("alice"), make_user("bob")
    good = exchange(alice, [hr], "Leave?", days_ago=1)
    bad = exchange(alice, [hr], "Parking?", days_ago=1)
    other = exchange(bob, [it], "Printer?", days_ago=1)
    Feedback.objects.create(message=good, user=alice, rating="up")
    Feedback.objects.create(message=bad, user=alice, rating="down", comment="Wrong floor")
    Feedback.objects.create(message=other, user=bob, rating="down", comment="Old manual")
    Feedback.objects.filter(message=bad).update(updated_at=at(3))
    client = signed_in(admin)

    days = csv_rows(client.get("/console/reports/feedback/csv/?table=days&kb=hr"))
    assert by_day(days) == {iso(0): ["1", "0"], iso(3): ["0", "1"]}
    comments = csv_rows(client.get("/console/reports/feedback/csv/?table=comments&kb=hr"))
    assert comments[0] == ["Given", "Rating", "Comment", "Question", "Answer", "User"]
    assert [row[1:4] + row[5:] for row in comments[1:]] == [
        ["down", "Wrong floor", "Parking?", "alice"]]
    page = client.get("/console/reports/feedback/").content.decode()
    assert "Wrong floor" in page and "Old manual" in page and "Not helpful" in page


GAPS = ["How many vacation days do I get?", "How many days of vacation can I take per year?",
        "vacation days for new employees", "How do I renew my parking permit?",
        "parking permit renewal deadline", "법인카드를 잃어버렸는데 어떻게 신고하나요?",
        "법인카드 분실 신고 절차", "What is the dress code?"]


def test_the_gap_report_groups_similar_unanswered_questions(admin, hr, it):
    for n, question in enumerate(GAPS):
        unanswered(question, [hr], days_ago=n % 3)
    unanswered("Where is the VPN guide?", [it])
    unanswered("Vacation days old question", [hr], days_ago=60)
    client = signed_in(admin)

    rows = csv_rows(client.get("/console/reports/gaps/csv/?table=topics&kb=hr"))
    assert rows[0][:4] == ["Topic", "Shared words", "Questions in the topic", "Question"]
    topics: dict[str, set[str]] = {}
    for row in rows[1:]:
        topics.setdefault(row[0], set()).add(row[3])
    assert {frozenset(questions) for questions in topics.values()} == {
        frozenset(GAPS[:3]), frozenset(GAPS[3:5]), frozenset(GAPS[5:7]), frozenset(GAPS[7:])}
    assert len(topics[rows[1][0]]) == 3  # the biggest topic first
    vacation = next(row for row in rows[1:] if row[3] == GAPS[0])
    assert vacation[1:3] == ["vacation · day", "3"] and vacation[5] == "Hr"

    page = client.get("/console/reports/gaps/?kb=hr").content.decode()
    assert "8 questions were not found in this period." in page
    assert "<th scope=\"row\">vacation · day</th>" in page
    assert "법인 · 카드 · 신고" in page and "VPN" not in page


def test_most_cited_and_never_cited_documents(admin, hr, it):
    handbook, policy = document(hr, "Handbook"), document(hr, "Policy")
    unused = document(hr, "Unused")
    old_only = document(hr, "Cited long ago")
    document(it, "Printers")
    asker = make_user("asker")
    exchange(asker, [hr], "a", days_ago=1, cites=[handbook, policy, handbook])
    exchange(asker, [hr], "b", days_ago=2, cites=[handbook])
    exchange(asker, [hr], "c", days_ago=50, cites=[old_only])
    client = signed_in(admin)

    cited = csv_rows(client.get("/console/reports/documents/csv/?table=cited&kb=hr"))
    assert cited == [["Document", "Knowledge base", "Citations", "Answers citing it"],
                     ["Handbook", "Hr", "3", "2"], ["Policy", "Hr", "1", "1"]]
    uncited = csv_rows(client.get("/console/reports/documents/csv/?table=uncited&kb=hr"))
    assert [row[0] for row in uncited[1:]] == ["Cited long ago", "Unused"]
    everything = csv_rows(client.get("/console/reports/documents/csv/?table=uncited"))
    assert {row[0] for row in everything[1:]} == {"Cited long ago", "Unused", "Printers"}
    assert unused.title in client.get("/console/reports/documents/").content.decode()


def test_a_document_title_is_text_in_the_chart_and_the_table(admin, hr):
    hostile = document(hr, '<script>alert("x")</script>')
    exchange(make_user("asker"), [hr], "a", days_ago=1, cites=[hostile])
    page = signed_in(admin).get("/console/reports/documents/").content.decode()
    assert "<script>" not in page
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert page.count(escaped) >= 3  # the bar's label, its tooltip, the row


def test_token_usage_by_user_knowledge_base_and_api_key(admin, hr, it):
    alice, bob = make_user("alice"), make_user("bob")
    key, _ = ApiKey.objects.create_key(owner=bob, name="helpdesk")
    exchange(alice, [hr], "a", days_ago=1, tokens=(100, 20))
    exchange(alice, [hr, it], "b", days_ago=0, tokens=(50, 5))
    exchange(bob, [it], "c", days_ago=0, tokens=(300, 30), api_key=key)
    exchange(bob, [it], "d", days_ago=45, tokens=(9999, 9999))
    client = signed_in(admin)

    def usage(by: str) -> list[list[str]]:
        return csv_rows(client.get(f"/console/reports/usage/csv/?table=usage&by={by}"))[1:]

    assert usage("user") == [["bob", "1", "300", "30", "330"], ["alice", "2", "150", "25", "175"]]
    # A question asked of two knowledge bases counts for each.
    assert usage("knowledge_base") == [["It", "2", "350", "35", "385"],
                                       ["Hr", "2", "150", "25", "175"]]
    assert usage("api_key") == [[f"helpdesk · {key.prefix}", "1", "300", "30", "330"],
                                ["No API key (web chat)", "2", "150", "25", "175"]]
    page = client.get("/console/reports/usage/?by=api_key").content.decode()
    assert "Tokens per day by API key" in page and "helpdesk" in page
    assert client.get("/console/reports/usage/?by=password").status_code == 404


def test_an_editor_reports_on_their_knowledge_bases_only(hr, it):
    editor = make_user("editor")
    hr.editor_users.add(editor)
    asker = make_user("asker")
    exchange(asker, [hr], "Leave?", days_ago=1, tokens=(10, 1))
    exchange(asker, [it], "Printer?", days_ago=1, tokens=(20, 2))
    unanswered("Where is the printer manual?", [it])
    client = signed_in(editor)

    assert by_day(csv_rows(client.get("/console/reports/questions/csv/?table=days"))) == {
        iso(1): ["1"]}
    page = client.get("/console/reports/gaps/").content.decode()
    assert "printer" not in page and 'value="it"' not in page and 'value="hr"' in page
    assert client.get("/console/reports/?kb=it").status_code == 404
    assert client.get("/console/reports/usage/csv/?table=usage&kb=it").status_code == 404
    assert client.get("/console/reports/nonsense/").status_code == 404
    assert client.get("/console/reports/questions/csv/?table=nonsense").status_code == 404


def test_readers_and_strangers_are_kept_out(hr):
    reader = make_user("reader")
    hr.reader_users.add(reader)
    assert signed_in(reader).get("/console/reports/").status_code == 403
    assert signed_in(reader).get("/console/reports/questions/csv/?table=days").status_code == 403
    assert Client().get("/console/reports/").status_code == 302


def test_the_pages_read_in_korean(admin, hr):
    exchange(make_user("asker"), [hr], "연차?", days_ago=1)
    html = signed_in(admin, "ko").get("/console/reports/?days=7").content.decode()
    assert "보고서" in html and "하루 질문 수" in html
    day = TODAY - timedelta(days=1)
    assert f"{day.year}년 {day.month}월 {day.day}일" in html  # dates in Korean


@pytest.mark.parametrize("report", ["questions", "answers", "feedback", "gaps", "documents",
                                    "usage"])
def test_the_number_of_queries_does_not_grow_with_the_rows(admin, hr, it, report,
                                                           django_assert_max_num_queries):
    """No query per row (N+1): the same count with a few rows as with many."""
    def rows(n: int) -> None:
        asker = make_user(f"asker{n}")
        key, _ = ApiKey.objects.create_key(owner=asker, name=f"key{n}")
        for i in range(n):
            doc = document(hr if i % 2 else it, f"doc{n}-{i}")
            message = exchange(asker, [hr, it], f"question {i}", days_ago=i % 5,
                               not_found=i % 3 == 0, tokens=(i, i), api_key=key, cites=[doc])
            Feedback.objects.create(message=message, user=asker, rating="up", comment=f"c{i}")
            unanswered(f"question {i} about topic {i % 4}", [hr])

    client = signed_in(admin)
    rows(2)
    client.get(f"/console/reports/{report}/")  # sessions, content types: cached after
    with django_assert_max_num_queries(20) as few:
        client.get(f"/console/reports/{report}/")
    rows(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/console/reports/{report}/").status_code == 200


@pytest.mark.parametrize(("zone", "day"), [
    ("Asia/Seoul", datetime(2026, 3, 10).date()),  # one offset all period: SQLite's date()
    ("Europe/Berlin", datetime(2026, 3, 30).date()),  # clocks went forward the night before
])
def test_questions_count_on_the_local_day(hr, zone, day):
    """Half an hour after local midnight is the new day, whatever UTC says, on a
    daylight-saving change too."""
    from citewise.chat.reports import Period, Scope, questions_per_day

    asker = make_user("asker")
    with timezone.override(zone):
        local = timezone.get_current_timezone()
        for when in (datetime.combine(day, time(0, 30), local),
                     datetime.combine(day - timedelta(days=1), time(23, 30), local)):
            answer = exchange(asker, [hr], "When?")
            Message.objects.filter(pk=answer.pk).update(created_at=when)
        counted = questions_per_day(Scope.of([hr], Period(day - timedelta(days=2), day)))
    assert [(d.day, d.questions) for d in counted] == [
        (day - timedelta(days=2), 0), (day - timedelta(days=1), 1), (day, 1)]
