"""Admins upload and delete documents in the admin pages; the services do the work."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from citewise.knowledge.models import AnswerExample, Document, DocumentStatus, KnowledgeBase
from citewise.knowledge.storage import open_original
from tests.factories import make_kb, make_staff, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_uploads_a_document_and_it_is_queued(client):
    kb = make_kb("it")
    client.force_login(make_user("root", superuser=True))
    upload = SimpleUploadedFile("../../etc/vpn.md", b"# VPN\n\nUse WireGuard.")
    response = client.post("/admin/knowledge/document/add/",
                           {"knowledge_base": kb.pk, "title": "", "file": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    document = Document.objects.get()
    assert document.original_name == "vpn.md"  # no path from the client survives
    assert document.status == DocumentStatus.QUEUED
    with open_original(document.stored_path) as original:
        assert original.read() == b"# VPN\n\nUse WireGuard."


def test_staff_see_only_knowledge_bases_they_edit(client):
    mine, other = make_kb("mine"), make_kb("other")
    editor = make_staff("editor", app_label="knowledge")
    mine.editor_users.add(editor)
    client.force_login(editor)
    page = client.get("/admin/knowledge/knowledgebase/").content.decode()
    assert "Mine" in page and "Other" not in page
    form = client.get("/admin/knowledge/document/add/").content.decode()
    assert f'value="{mine.pk}"' in form and f'value="{other.pk}"' not in form


@pytest.mark.parametrize(("language", "typed", "expected"), [
    ("ko", "", "universal-sentence-encoder-multilingual-3"),
    ("en", "", "all-MiniLM-L6-v2"),
    ("auto", "", "all-MiniLM-L6-v2"),
    ("ko", "intfloat/multilingual-e5-small", "intfloat/multilingual-e5-small"),
])
def test_a_new_knowledge_base_gets_the_model_for_its_language_unless_one_is_named(
        client, language, typed, expected):
    client.force_login(make_user("root", superuser=True))
    form = client.get("/admin/knowledge/knowledgebase/add/").content.decode()
    assert "Leave empty for the default" in form
    response = client.post("/admin/knowledge/knowledgebase/add/", {
        "name": "Policies", "slug": "policies", "description": "", "language": language,
        "embedding_model": typed, "query_prefix": "", "passage_prefix": "",
        "answer_backend": "", "instructions": "",
        "answer_examples-TOTAL_FORMS": "1", "answer_examples-INITIAL_FORMS": "0",
        "answer_examples-0-question": "Where is the printer?",
        "answer_examples-0-source": "The printer is on floor 3.",
        "answer_examples-0-answer": "On floor 3 [1].", "answer_examples-0-position": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    created = KnowledgeBase.objects.get(slug="policies")
    assert created.embedding_model == expected
    assert [e.answer for e in created.answer_examples.all()] == ["On floor 3 [1]."]


def test_the_service_picks_the_korean_model_for_a_korean_knowledge_base():
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.services import create_knowledge_base

    korean = create_knowledge_base(SYSTEM, name="사내 규정", slug="rules", language="ko")
    english = create_knowledge_base(SYSTEM, name="Rules", slug="rules-en", language="en")
    assert korean.embedding_model == "universal-sentence-encoder-multilingual-3"
    assert english.embedding_model == "all-MiniLM-L6-v2"


def test_admins_write_answer_examples_on_the_knowledge_base_page(client):
    kb = make_kb("it")
    AnswerExample.objects.create(knowledge_base=kb, question="Where is the printer?",
                                 answer="On floor 3 [1].")
    client.force_login(make_user("root", superuser=True))
    page = client.get(f"/admin/knowledge/knowledgebase/{kb.pk}/change/").content.decode()
    assert "answer example" in page.lower() and "Where is the printer?" in page
    assert 'name="answer_examples-TOTAL_FORMS"' in page
