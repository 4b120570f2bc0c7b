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
