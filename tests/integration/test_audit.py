"""The audit log: what people do through the sign-in page, Django's admin and the commands
is recorded where it happens, and admins read it at /console/audit/ (filtered, exported
as CSV); nobody changes or deletes an entry, and the retention settings delete what is
older than they allow, audit events and conversations alike."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import timedelta
from unittest import mock

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from citewise.accounts.models import ApiKey
from citewise.audit.models import Action, AuditEvent
from citewise.audit.services import record
from citewise.chat.models import Citation, Conversation, Feedback, Message, UnansweredQuestion
from citewise.knowledge.models import Document, KnowledgeBase
from citewise.knowledge.permissions import SYSTEM
from tests.factories import make_kb, make_user

pytestmark = [
    pytest.mark.django_db,
    # The test client reads the CSV's async stream synchronously, and Django warns so.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]

ADDRESS = "203.0.113.7"


def signed_in(user) -> Client:
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(user)
    return client


def rows(client: Client, query: str = "") -> list[dict[str, str]]:
    """The audit page's rows as {column header: cell text}."""
    response = client.get(f"/console/audit/{query}")
    assert response.status_code == 200
    page = BeautifulSoup(response.content, "html.parser")
    headers = [th.get_text(" ", strip=True) for th in page.select(".audit-table thead th")]
    return [{header.split(" (")[0]: " ".join(td.get_text(" ", strip=True).split())
             for header, td in zip(headers, tr.select("td"), strict=True)}
            for tr in page.select(".audit-table tbody tr")]


def csv_lines(response) -> tuple[str, list[list[str]]]:
    """(the body's first character, its CSV rows). The body is an async stream (under
    uvicorn it is sent as it is read); the test client reads it through async_to_sync."""
    assert response.status_code == 200
    body = b"".join(response).decode("utf-8")
    return body[:1], list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


@contextlib.contextmanager
def at(moment):
    """Rows saved inside are dated `moment`: the clock is the one thing a test cannot
    wait for (a year of retention)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def test_sign_ins_failed_sign_ins_and_sign_outs_are_recorded_with_the_address():
    make_user("alice")
    visitor = Client(REMOTE_ADDR=ADDRESS)
    visitor.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    visitor.post("/accounts/login/", {"username": "alice", "password": "pw-for-tests"})
    visitor.post("/accounts/logout/")
    admin = signed_in(make_user("boss", superuser=True))
    alices = rows(admin, "?person=ALICE")
    assert [(row["Who"], row["Address"], row["Action"]) for row in alices] == [
        ("alice", ADDRESS, "Signed out"),
        ("alice", ADDRESS, "Signed in"),
        ("name tried: alice", ADDRESS, "Sign-in failed"),
    ]
    assert str(timezone.localdate().year) in alices[0]["When"]


def test_uploads_duplicates_new_versions_and_deletions_through_the_admin():
    kb = make_kb("it")
    admin = signed_in(make_user("boss", superuser=True))

    def upload(name: str, content: bytes) -> None:
        response = admin.post("/admin/knowledge/document/add/", {
            "knowledge_base": kb.pk, "title": "", "file": SimpleUploadedFile(name, content)})
        assert response.status_code == 302

    upload("vpn.md", b"# VPN\n\nUse WireGuard.")
    upload("copy.md", b"# VPN\n\nUse WireGuard.")
    upload("vpn.md", b"# VPN\n\nUse WireGuard 2.")
    first = Document.objects.get(version=1)
    response = admin.post(f"/admin/knowledge/document/{first.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert [(row["Who"], row["Address"], row["Action"], row["Target"], row["Change"])
            for row in rows(admin, f"?knowledge_base={kb.pk}")] == [
        ("boss", ADDRESS, "Document deleted", "vpn.md It", "File: vpn.md Version: 1"),
        ("boss", ADDRESS, "Document uploaded", "vpn.md It",
         "File: vpn.md Version: 2 Replaces: vpn.md (v1) New version of a document"),
        ("boss", ADDRESS, "Document uploaded", "vpn.md It",
         "File: copy.md Same content as this document: not added again"),
        ("boss", ADDRESS, "Document uploaded", "vpn.md It", "File: vpn.md Version: 1"),
    ]


def knowledge_base_form(kb, **changes) -> dict:
    """The admin's change form of `kb` as a browser would post it, with `changes`."""
    fields = {"name": kb.name, "slug": kb.slug, "description": kb.description,
              "answer_backend": kb.answer_backend, "instructions": kb.instructions,
              "webhook_url": kb.webhook_url, "readable_by_all": "",
              "reader_users": [], "reader_groups": [], "editor_users": [], "editor_groups": [],
              "answer_examples-TOTAL_FORMS": "0", "answer_examples-INITIAL_FORMS": "0"}
    fields.update(changes)
    return {name: value for name, value in fields.items() if value not in ("", None)}


def test_settings_and_access_changed_in_the_admin_show_before_and_after():
    kb = make_kb("hr", description="Leave and pay")
    alice, bob = make_user("alice"), make_user("bob")
    kb.reader_users.add(bob)
    staff = Group.objects.create(name="staff")
    admin = signed_in(make_user("boss", superuser=True))
    response = admin.post(f"/admin/knowledge/knowledgebase/{kb.pk}/change/", knowledge_base_form(
        kb, name="People", instructions="Answer briefly.", readable_by_all="on",
        reader_users=[alice.pk], editor_groups=[staff.pk]))
    assert response.status_code == 302, response.content.decode()[:3000]

    changed = AuditEvent.objects.get(action=Action.KNOWLEDGE_BASE_CHANGED)
    assert changed.before == {"name": "Hr", "instructions": ""}
    assert changed.after == {"name": "People", "instructions": "Answer briefly."}
    access = AuditEvent.objects.get(action=Action.ACCESS_CHANGED)
    assert access.before == {"readable_by_all": False, "reader_users": ["bob"],
                             "editor_groups": []}
    assert access.after == {"readable_by_all": True, "reader_users": ["alice"],
                            "editor_groups": ["staff"]}

    shown = {row["Action"]: row for row in rows(admin)}
    assert shown["Knowledge base settings changed"]["Change"] == (
        "Name: before: Hr → after: People Instructions: before: (none) → after: Answer briefly.")
    assert shown["Access changed"]["Change"] == (
        "Everyone signed in may read: before: No → after: Yes "
        "Readers (people): added + alice removed − bob Editors (groups): added + staff")
    assert shown["Access changed"]["Who"] == "boss"
    assert shown["Access changed"]["Address"] == ADDRESS
    assert shown["Access changed"]["Target"] == "People"


def test_role_changes_in_the_admin_are_recorded():
    alice = make_user("alice")
    Group.objects.create(name="hr-editors")
    admin = signed_in(make_user("boss", superuser=True))
    page = admin.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
    form = BeautifulSoup(page, "html.parser").select_one("form#user_form")
    data = {field["name"]: field.get("value", "") for field in form.select("input")
            if field.get("name") and field.get("type") not in ("checkbox", "submit")}
    data.update(is_active="on", is_staff="on",
                groups=[Group.objects.get(name="hr-editors").pk], _save="Save")
    response = admin.post(f"/admin/auth/user/{alice.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    role = AuditEvent.objects.get(action=Action.ROLE_CHANGED)
    assert (role.target, role.actor, role.address) == ("alice", "boss", ADDRESS)
    assert (role.before, role.after) == ({"is_staff": False, "groups": []},
                                         {"is_staff": True, "groups": ["hr-editors"]})
    assert rows(admin, "?action=role_changed")[0]["Change"] == (
        "May open Django's admin: before: No → after: Yes Groups: added + hr-editors")


def test_an_account_created_in_the_admin_is_recorded():
    admin = signed_in(make_user("boss", superuser=True))
    response = admin.post("/admin/auth/user/add/", {
        "username": "carol", "password1": "Carol-pw-12345", "password2": "Carol-pw-12345",
        "usable_password": "true", "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:2000]
    created = AuditEvent.objects.get(action=Action.ACCOUNT_CREATED)
    assert (created.target, created.actor, created.address) == ("carol", "boss", ADDRESS)
    assert created.after["groups"] == [] and created.after["is_superuser"] is False


def test_api_keys_created_and_revoked_by_the_command_are_recorded_as_system(capsys):
    make_kb("hr")
    make_user("boss", superuser=True)
    call_command("apikey", "create", "--name", "helpdesk", "--kb", "hr")
    key = ApiKey.objects.get()
    call_command("apikey", "revoke", key.prefix)
    call_command("apikey", "revoke", key.prefix)  # already revoked: nothing new happens
    shown = rows(signed_in(make_user("auditor", superuser=True)), "?person=system")
    assert [(row["Who"], row["Address"], row["Action"], row["Target"]) for row in shown] == [
        ("system", "—", "API key revoked", f"helpdesk ({key.prefix})"),
        ("system", "—", "API key created", f"helpdesk ({key.prefix})"),
    ]
    assert "Knowledge bases: hr" in shown[1]["Change"]
    assert "Operations: ask, search" in shown[1]["Change"]


def test_keys_created_rescoped_and_revoked_in_the_admin_name_the_admin():
    hr, it = make_kb("hr"), make_kb("it")
    owner = make_user("bot-owner")
    admin = signed_in(make_user("boss", superuser=True))
    form = {"name": "portal", "owner": owner.pk, "knowledge_bases": [hr.pk],
            "operations": ["ask"], "rate_limit": 30}
    assert admin.post("/admin/accounts/apikey/add/", form).status_code == 302
    key = ApiKey.objects.get()
    response = admin.post(f"/admin/accounts/apikey/{key.pk}/change/",
                          form | {"knowledge_bases": [hr.pk, it.pk]})
    assert response.status_code == 302
    admin.post("/admin/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    events = list(AuditEvent.objects.filter(target_type="apikey").order_by("id"))
    assert [(event.action, event.actor, event.address, event.target_id) for event in events] == [
        (Action.API_KEY_CREATED, "boss", ADDRESS, key.prefix),
        (Action.ACCESS_CHANGED, "boss", ADDRESS, key.prefix),
        (Action.API_KEY_REVOKED, "boss", ADDRESS, key.prefix)]
    assert events[0].after["knowledge_bases"] == ["hr"]
    assert (events[1].before, events[1].after) == ({"knowledge_bases": ["hr"]},
                                                   {"knowledge_bases": ["hr", "it"]})


def test_filters_by_action_person_knowledge_base_and_period():
    hr, it = make_kb("hr"), make_kb("it")
    alice, bob = make_user("alice"), make_user("bob")
    now = timezone.now()
    with at(now - timedelta(days=10)):
        record(alice, Action.DOCUMENT_UPLOADED, hr, detail="old upload")
    record(alice, Action.DOCUMENT_UPLOADED, it, detail="new upload")
    record(bob, Action.DOCUMENT_DELETED, hr, detail="deletion")
    admin = signed_in(make_user("boss", superuser=True))

    def details(query: str) -> list[str]:
        return [row["Change"] for row in rows(admin, query)]

    assert details("?action=document_uploaded") == ["new upload", "old upload"]
    assert details("?person=bob") == ["deletion"]
    assert details(f"?knowledge_base={hr.pk}") == ["deletion", "old upload"]
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert details(f"?since={since}&action=document_uploaded") == ["new upload"]
    until = (timezone.localdate() - timedelta(days=5)).isoformat()
    assert details(f"?until={until}") == ["old upload"]
    # An end before the start is said to be wrong and left out; the start still filters
    # (the two recent records and boss's own sign-in).
    page = admin.get(f"/console/audit/?since={since}&until={until}").content.decode()
    assert "The end of the period is before its start." in page
    assert "3 events" in page


def test_the_page_is_paginated_newest_first_in_a_fixed_number_of_queries():
    alice = make_user("alice")
    kb = make_kb("hr")
    for number in range(55):
        record(alice, Action.DOCUMENT_UPLOADED, kb, detail=f"upload {number}")
    admin = signed_in(make_user("boss", superuser=True))
    with CaptureQueriesContext(connection) as full_page:
        first = rows(admin, "?person=alice")
    with CaptureQueriesContext(connection) as short_page:
        second = rows(admin, "?person=alice&page=2")
    assert len(full_page) == len(short_page)  # 50 rows cost what 5 do: no query per row
    assert (len(first), len(second)) == (50, 5)
    assert first[0]["Change"] == "upload 54" and second[-1]["Change"] == "upload 0"
    page = admin.get("/console/audit/?person=alice").content.decode()
    assert 'href="?person=alice&amp;page=2"' in page


def test_the_csv_export_has_the_same_filters_a_bom_and_no_formulas():
    kb = KnowledgeBase.objects.create(name="인사 규정", slug="hr")
    alice = make_user("alice")
    record(alice, Action.ACCESS_CHANGED, kb, before={"reader_users": []},
           after={"reader_users": ["민수"]})
    record(alice, Action.DOCUMENT_UPLOADED, kb, after={"file": "=HYPERLINK(\"x\")"})
    record(make_user("bob"), Action.SIGN_IN)
    admin = signed_in(make_user("boss", superuser=True))
    response = admin.get("/console/audit/export.csv?person=alice")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="citewise-audit-')
    bom, (header, *lines) = csv_lines(response)
    assert bom == "\ufeff"
    assert header[:6] == ["When", "Who", "API key", "Address", "Action code", "Action"]
    assert [(line[1], line[4], line[8]) for line in lines] == [
        ("alice", "document_uploaded", "인사 규정"), ("alice", "access_changed", "인사 규정")]
    assert lines[0][11] == '{"file": "=HYPERLINK(\\"x\\")"}'
    assert lines[1][11] == '{"reader_users": ["민수"]}'
    # In Korean, the labels are Korean and the codes stay as they are.
    _bom, (header, line) = csv_lines(admin.get(
        "/console/audit/export.csv?action=sign_in&person=bob", HTTP_ACCEPT_LANGUAGE="ko"))
    assert (header[0], line[4], line[5]) == ("일시", "sign_in", "로그인")


def test_a_cell_that_would_be_a_formula_is_kept_as_text():
    alice = make_user("=cmd")
    record(alice, Action.SIGN_IN)
    admin = signed_in(make_user("boss", superuser=True))
    _bom, lines = csv_lines(admin.get("/console/audit/export.csv?person=%3Dcmd"))
    assert [line[1] for line in lines[1:]] == ["'=cmd"]


def test_only_admins_read_the_audit_log():
    kb = make_kb("hr")
    editor, reader = make_user("editor"), make_user("reader")
    kb.editor_users.add(editor)
    kb.reader_users.add(reader)
    for person in (editor, reader):
        client = signed_in(person)
        assert client.get("/console/audit/").status_code == 403
        assert client.get("/console/audit/export.csv").status_code == 403
    assert Client().get("/console/audit/").status_code == 302  # to the sign-in page
    assert 'href="/console/audit/"' not in signed_in(editor).get("/console/").content.decode()
    admin = signed_in(make_user("boss", superuser=True))
    assert 'href="/console/audit/"' in admin.get("/console/").content.decode()


def test_entries_cannot_be_changed_or_deleted():
    admin_user = make_user("boss", superuser=True)
    event = record(admin_user, Action.ROLE_CHANGED, admin_user, before={"is_staff": False},
                   after={"is_staff": True})
    admin = signed_in(admin_user)
    page = admin.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    assert "boss" in page and 'name="_save"' not in page
    assert admin.post(f"/admin/audit/auditevent/{event.pk}/delete/",
                      {"post": "yes"}).status_code == 403
    assert admin.post("/admin/audit/auditevent/add/", {}).status_code == 403
    event.actor = "someone else"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(actor="someone else")
    assert AuditEvent.objects.get(pk=event.pk).actor == "boss"


def test_commands_act_as_system():
    call_command("load_demo", stdout=io.StringIO())
    created = AuditEvent.objects.get(action=Action.KNOWLEDGE_BASE_CREATED)
    assert (created.actor, created.user, created.address) == ("system", None, None)
    assert created.after["readable_by_all"] is True
    uploads = AuditEvent.objects.filter(action=Action.DOCUMENT_UPLOADED)
    assert uploads.count() == Document.objects.count() > 0
    assert set(uploads.values_list("actor", flat=True)) == {"system"}


# --- Retention ---------------------------------------------------------------------


def test_audit_retention_deletes_only_what_is_older(settings):
    from citewise.ops.tasks import expire_audit_events

    alice = make_user("alice")
    now = timezone.now()
    with at(now - timedelta(days=31)):
        record(alice, Action.SIGN_IN, detail="old")
    with at(now - timedelta(days=29)):
        record(alice, Action.SIGN_IN, detail="recent")
    settings.AUDIT_RETENTION_DAYS = 0
    assert expire_audit_events() == {"audit_events": 0}
    assert AuditEvent.objects.count() == 2
    settings.AUDIT_RETENTION_DAYS = 30
    assert expire_audit_events() == {"audit_events": 1}
    assert list(AuditEvent.objects.values_list("detail", flat=True)) == ["recent"]


def conversation(user, *, started, answered):
    """A conversation started and last answered at those times, with a citation and
    feedback on its answer."""
    kb = make_kb(f"kb-{Conversation.objects.count()}")
    with at(started):
        chat = Conversation.objects.create(user=user, title="Parking")
        Message.objects.create(conversation=chat, role="user", text="Where do I park?")
    with at(answered):
        answer = Message.objects.create(conversation=chat, role="assistant", text="Level 2 [1].")
        Citation.objects.create(message=answer, n=1, knowledge_base=kb, document_name="p.md",
                                title="Parking", snippet="Level 2.")
        Feedback.objects.create(message=answer, user=user, rating="up")
    return chat


def test_conversation_retention_counts_from_the_last_message(settings):
    from citewise.ops.tasks import expire_conversations

    alice = make_user("alice")
    now = timezone.now()
    old = conversation(alice, started=now - timedelta(days=100), answered=now - timedelta(days=40))
    kept = conversation(alice, started=now - timedelta(days=100), answered=now - timedelta(days=2))
    with at(now - timedelta(days=40)):
        UnansweredQuestion.objects.create(question="Where is the gym?", user=alice)
    UnansweredQuestion.objects.create(question="Is there a sauna?", user=alice)

    settings.CONVERSATION_RETENTION_DAYS = 0  # the default: everything is kept
    assert expire_conversations() == {"conversations": 0, "messages": 0,
                                      "unanswered_questions": 0}
    assert Conversation.objects.count() == 2

    settings.CONVERSATION_RETENTION_DAYS = 30
    assert expire_conversations() == {"conversations": 1, "messages": 2,
                                      "unanswered_questions": 1}
    assert list(Conversation.objects.all()) == [kept]
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    assert Citation.objects.count() == Feedback.objects.count() == 1
    assert list(UnansweredQuestion.objects.values_list("question", flat=True)) == [
        "Is there a sauna?"]


def test_expire_dry_run_reports_and_deletes_nothing(settings):
    alice = make_user("alice")
    now = timezone.now()
    conversation(alice, started=now - timedelta(days=50), answered=now - timedelta(days=50))
    with at(now - timedelta(days=400)):
        record(alice, Action.SIGN_IN)
    settings.AUDIT_RETENTION_DAYS, settings.CONVERSATION_RETENTION_DAYS = 365, 30
    out = io.StringIO()
    call_command("expire", "--dry-run", stdout=out)
    report = out.getvalue()
    assert "Audit events older than 365 days" in report and "1 would be deleted" in report
    assert ("Conversations older than 30 days" in report
            and "1 (2 messages) and 0 unanswered questions would be deleted" in report)
    assert AuditEvent.objects.count() == 1 and Conversation.objects.count() == 1

    settings.CONVERSATION_RETENTION_DAYS = 0
    out = io.StringIO()
    call_command("expire", stdout=out)
    assert "Conversations: kept forever (CITEWISE_CONVERSATION_RETENTION_DAYS=0)." in (
        out.getvalue())
    assert "Audit events older than 365 days" in out.getvalue()
    assert AuditEvent.objects.count() == 0 and Conversation.objects.count() == 1


def test_the_retention_tasks_run_daily_under_beat():
    from citewise.celery import app

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"citewise.ops.tasks.expire_audit_events",
            "citewise.ops.tasks.expire_conversations"} <= scheduled
    app.loader.import_default_modules()
    assert scheduled <= set(app.tasks)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_applies_the_retention_read_from_its_environment(own_worker):
    from citewise.ops.models import TaskState
    from citewise.ops.tasks import expire_audit_events, expire_conversations
    from tests.integration.test_worker import wait_for_state

    alice = make_user("alice")
    now = timezone.now()
    old = conversation(alice, started=now - timedelta(days=9), answered=now - timedelta(days=8))
    conversation(alice, started=now - timedelta(days=9), answered=now - timedelta(days=6))
    with at(now - timedelta(days=8)):
        record(SYSTEM, Action.REINDEXED, detail="old")
    record(SYSTEM, Action.REINDEXED, detail="recent")
    own_worker("retention", CITEWISE_AUDIT_RETENTION_DAYS="7",
               CITEWISE_CONVERSATION_RETENTION_DAYS="7")
    audit = wait_for_state(expire_audit_events.delay().id, TaskState.SUCCEEDED)
    chats = wait_for_state(expire_conversations.delay().id, TaskState.SUCCEEDED)
    assert audit.result == {"audit_events": 1}
    assert chats.result == {"conversations": 1, "messages": 2, "unanswered_questions": 0}
    assert not Conversation.objects.filter(pk=old.pk).exists()
    assert list(AuditEvent.objects.values_list("detail", flat=True)) == ["recent"]
