"""Who may open the console: admins see every knowledge base, an editor only theirs,
a reader nothing of it; the audit log only grows."""

from __future__ import annotations

import pytest
from django.test import Client

from citewise.audit.models import Action, AuditEvent
from citewise.audit.services import record
from tests.factories import make_kb, make_user

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_console_shows_each_person_what_they_may_manage():
    hr, it = make_kb("hr"), make_kb("it")
    editor, reader = make_user("editor"), make_user("reader")
    hr.editor_users.add(editor)
    it.reader_users.add(reader)
    admin = make_user("boss", superuser=True)
    everything = signed_in(admin).get("/console/").content.decode()
    assert "Hr" in everything and "It" in everything
    editors = signed_in(editor).get("/console/")
    assert "Hr" in editors.content.decode() and ">It<" not in editors.content.decode()
    assert signed_in(reader).get("/console/").status_code == 403
    assert Client().get("/console/").status_code == 302  # to the sign-in page
    assert 'href="/console/"' in signed_in(editor).get("/chat/").content.decode()
    assert 'href="/console/"' not in signed_in(reader).get("/chat/").content.decode()


def test_audit_events_are_append_only(client):
    admin = make_user("boss", superuser=True)
    kb = make_kb("hr")
    event = record(admin, Action.KNOWLEDGE_BASE_CHANGED, kb, before={"name": "HR"},
                   after={"name": "People"})
    assert (event.actor, event.knowledge_base, event.target_type) == ("boss", kb,
                                                                       "knowledgebase")
    event.detail = "rewritten"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(detail="x")
    assert AuditEvent.objects.get().detail == ""


def test_refusals_are_pages_of_the_site_in_the_persons_language():
    """A reader who opens the console, and anyone at an address with nothing there, get
    a page with the site's header and a way back, in their language; not a bare line."""
    reader = signed_in(make_user("reader"))
    refused = reader.get("/console/", HTTP_ACCEPT_LANGUAGE="ko")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "콘솔은 관리자와 지식 베이스 편집자를 위한 곳입니다" in page
    assert 'class="topbar"' in page and 'href="/"' in page
    missing = reader.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404
    assert "There is nothing at this address" in missing.content.decode()


def test_korean_headers_tell_the_console_from_djangos_admin():
    """Both were "관리…" (Django's own catalogue translates "Administration")."""
    page = signed_in(make_user("boss", superuser=True)).get(
        "/console/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '>콘솔</a>' in page and '>Django 관리자</a>' in page
