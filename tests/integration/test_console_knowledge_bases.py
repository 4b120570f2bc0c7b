"""The console's knowledge base pages, driven as a browser would drive them (Django's
test client): the list per role, creating and changing settings and examples, the
embedding model fixed once documents exist, deletion after a confirmation that counts
what goes, re-indexing, access for users and groups, and trying a question. Every
change leaves an audit event saying what it was before and after."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from citewise.audit.models import Action, AuditEvent
from citewise.chat.events import AskResult
from citewise.chat.models import Citation
from citewise.chat.services import ask
from citewise.knowledge import administration, tasks
from citewise.knowledge.models import Chunk, Document, DocumentStatus, KnowledgeBase
from tests.factories import load_document, make_kb, make_user

pytestmark = pytest.mark.django_db

HANDBOOK = """# Travel

## Trains

Employees travel by train when the trip takes less than four hours.
Train tickets are booked through the travel desk at extension 2200.
"""
QUESTION = "How are train tickets booked?"


def signed_in(user, *, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def add_rows(kb: KnowledgeBase, *statuses: str, size: int = 1000) -> None:
    """Documents in these states (rows only: the list counts them, nothing reads them)."""
    for n, status in enumerate(statuses):
        Document.objects.create(knowledge_base=kb, title=f"{status}-{n}", original_name=f"{n}.md",
                                sha256=f"{kb.pk}-{n}", stored_path="", status=status, size=size)


def event(action: str) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1, events
    return events[0]


@pytest.fixture
def admin():
    return make_user("boss", superuser=True)


# --- The list -------------------------------------------------------------------------

def test_the_list_counts_each_knowledge_base_for_admins_and_only_theirs_for_editors(admin):
    hr, it = make_kb("hr"), make_kb("it")
    add_rows(hr, DocumentStatus.INDEXED, DocumentStatus.INDEXED, DocumentStatus.FAILED)
    add_rows(it, DocumentStatus.INDEXED, DocumentStatus.PROCESSING, size=2048)
    editor = make_user("editor")
    hr.editor_users.add(editor)

    everything = page(signed_in(admin).get("/console/"))
    hr_row, it_row = (re.search(rf'<tr>\s*<th scope="row"><a href="/console/knowledge-bases/'
                                rf'{slug}/">.*?</tr>', everything, re.S).group()
                      for slug in ("hr", "it"))
    assert "Has failures" in hr_row and "2 indexed · 1 failed" in hr_row
    assert "Indexing" in it_row and "1 in progress" in it_row and "4.0\xa0KB" in it_row
    assert "New knowledge base" in everything

    theirs = page(signed_in(editor).get("/console/"))
    assert "/console/knowledge-bases/hr/" in theirs
    assert "/console/knowledge-bases/it/" not in theirs and "New knowledge base" not in theirs
    korean = page(signed_in(editor, language="ko").get("/console/"))
    assert "실패 1건" in korean and "문서" in korean


def test_the_list_takes_the_same_queries_for_two_knowledge_bases_as_for_ten(admin):
    client = signed_in(admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(client.get("/console/"))
        return len(captured)

    for n in range(2):
        add_rows(make_kb(f"kb-{n}"), DocumentStatus.INDEXED, DocumentStatus.FAILED)
    few = queries()
    for n in range(2, 10):
        add_rows(make_kb(f"kb-{n}"), DocumentStatus.INDEXED, DocumentStatus.FAILED)
    assert queries() == few


# --- Who may open what ----------------------------------------------------------------

def test_an_editor_of_one_knowledge_base_finds_no_other_and_a_reader_no_console(admin):
    mine, other = make_kb("mine"), make_kb("other")
    editor, reader = make_user("editor"), make_user("reader")
    mine.editor_users.add(editor)
    other.reader_users.add(editor, reader)
    client = signed_in(editor)
    for action in ("", "status/", "edit/", "access/", "delete/"):
        assert client.get(f"/console/knowledge-bases/other/{action}").status_code == 404, action
        assert client.get(f"/console/knowledge-bases/none/{action}").status_code == 404, action
    for action in ("reindex/", "try/"):
        assert client.post(f"/console/knowledge-bases/other/{action}",
                           {"question": "x"}).status_code == 404, action
    # Their own: the knowledge base's page, but not the admins' pages of it.
    assert client.get("/console/knowledge-bases/mine/").status_code == 200
    assert client.get("/console/knowledge-bases/mine/access/").status_code == 403
    assert client.post("/console/knowledge-bases/mine/delete/").status_code == 403
    assert client.get("/console/new/").status_code == 403
    assert KnowledgeBase.objects.filter(slug="mine").exists()

    readers = signed_in(reader)
    assert readers.get("/console/").status_code == 403
    assert readers.get("/console/knowledge-bases/other/").status_code == 403


# --- Creating and changing --------------------------------------------------------------

CREATE = {"name": "Travel", "slug": "travel", "description": "Trips and expenses",
          "language": "en", "embedding_model": "", "answer_backend": "extractive",
          "instructions": "Answer in one sentence.",
          "examples-TOTAL_FORMS": "2", "examples-INITIAL_FORMS": "0",
          "examples-0-question": "Who books hotels?", "examples-0-answer": "The desk [1].",
          "examples-0-source": "The travel desk books hotels.", "examples-0-ORDER": "2",
          "examples-1-question": "How far is far?", "examples-1-answer": "Four hours [1].",
          "examples-1-ORDER": "1"}


def test_an_admin_creates_a_knowledge_base_with_its_examples(admin):
    client = signed_in(admin)
    response = client.post("/console/new/", CREATE)
    assert (response.status_code, response["Location"]) == (302,
                                                            "/console/knowledge-bases/travel/")
    kb = KnowledgeBase.objects.get(slug="travel")
    assert (kb.name, kb.language, kb.answer_backend, kb.instructions) == (
        "Travel", "en", "extractive", "Answer in one sentence.")
    assert kb.embedding_model == settings.EMBEDDING_MODEL  # the English default
    assert list(kb.answer_examples.values_list("question", "position")) == [
        ("How far is far?", 1), ("Who books hotels?", 2)]
    created = event(Action.KNOWLEDGE_BASE_CREATED)
    assert (created.actor, created.knowledge_base, created.before) == ("boss", kb, None)
    assert created.after["name"] == "Travel" and len(created.after["answer_examples"]) == 2
    shown = page(client.get(response["Location"]))
    assert "Knowledge base “Travel” created." in shown and "Trips and expenses" in shown


@pytest.mark.parametrize(("language", "required", "taken"), [
    ("en", "This field is required.", "Another knowledge base has this short name."),
    ("ko", "필수 항목입니다.", "다른 지식 베이스가 이 짧은 이름을 쓰고 있습니다."),
])
def test_mistakes_are_shown_next_to_their_fields_in_the_persons_language(admin, language,
                                                                          required, taken):
    make_kb("travel")
    form = {**CREATE, "name": "", "examples-1-answer": ""}
    html = page(signed_in(admin, language=language).post("/console/new/", form))
    name_error = re.search(r'<ul class="errorlist" id="id_name_error">(.*?)</ul>', html, re.S)
    slug_error = re.search(r'<ul class="errorlist" id="id_slug_error">(.*?)</ul>', html, re.S)
    assert required in name_error.group(1) and taken in slug_error.group(1)
    assert re.search(r'<ul class="errorlist" id="id_examples-1-answer_error">', html)
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_name_error"' in html
    assert KnowledgeBase.objects.count() == 1
    assert not AuditEvent.objects.filter(action=Action.KNOWLEDGE_BASE_CREATED).exists()


def test_an_admin_changes_settings_and_the_audit_log_shows_what_changed(admin):
    kb = make_kb("travel", instructions="Be brief.")
    client = signed_in(admin)
    form = client.get("/console/knowledge-bases/travel/edit/")
    assert 'id="id_embedding_model"' in page(form)  # no documents yet: the model may change
    response = client.post("/console/knowledge-bases/travel/edit/", {
        "name": "Business travel", "description": "", "language": "ko", "embedding_model": "",
        "answer_backend": "", "instructions": "Be brief.",
        "examples-TOTAL_FORMS": "1", "examples-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    kb.refresh_from_db()
    assert (kb.name, kb.language, kb.embedding_model) == (
        "Business travel", "ko", settings.EMBEDDING_MODEL_KOREAN)
    changed = event(Action.KNOWLEDGE_BASE_CHANGED)
    assert changed.before == {"name": "Travel", "language": "auto",
                              "embedding_model": "all-MiniLM-L6-v2"}
    assert changed.after == {"name": "Business travel", "language": "ko",
                             "embedding_model": settings.EMBEDDING_MODEL_KOREAN}


def test_an_editor_changes_instructions_and_examples_but_not_the_rest(admin):
    kb = make_kb("travel", answer_backend="extractive")
    editor = make_user("editor")
    kb.editor_users.add(editor)
    client = signed_in(editor)
    form = page(client.get("/console/knowledge-bases/travel/edit/"))
    assert 'name="instructions"' in form and 'name="examples-0-question"' in form
    assert 'name="name"' not in form and 'name="answer_backend"' not in form
    client.post("/console/knowledge-bases/travel/edit/", {
        "name": "Renamed", "answer_backend": "vllm", "description": "Trips",
        "instructions": "Use bullet points.",
        "examples-TOTAL_FORMS": "1", "examples-INITIAL_FORMS": "0",
        "examples-0-question": "Trains?", "examples-0-answer": "Yes [1]."})
    kb.refresh_from_db()
    assert (kb.name, kb.answer_backend, kb.instructions) == (
        "Travel", "extractive", "Use bullet points.")
    assert event(Action.KNOWLEDGE_BASE_CHANGED).after == {
        "description": "Trips", "instructions": "Use bullet points.",
        "answer_examples": ["Trains? → Yes [1]."]}
    with pytest.raises(PermissionDenied):
        administration.change_settings(editor, kb, {"name": "Renamed"})


def test_examples_are_edited_reordered_and_removed_with_the_formset(admin):
    kb = make_kb("travel")
    administration.change_settings(admin, kb, {"examples": [
        administration.Example("First?", "One [1]."), administration.Example("Second?", "Two."),
        administration.Example("Third?", "Three.")]})
    client = signed_in(admin)
    form = page(client.get("/console/knowledge-bases/travel/edit/"))
    assert 'name="examples-3-question"' in form  # one blank form to add an example
    client.post("/console/knowledge-bases/travel/edit/", {
        "name": "Travel", "description": "", "language": "auto", "embedding_model": "",
        "answer_backend": "", "instructions": "",
        "examples-TOTAL_FORMS": "4", "examples-INITIAL_FORMS": "3",
        "examples-0-question": "First?", "examples-0-answer": "One, edited [1].",
        "examples-0-ORDER": "3",
        "examples-1-question": "Second?", "examples-1-answer": "Two.", "examples-1-ORDER": "2",
        "examples-1-DELETE": "on",
        "examples-2-question": "Third?", "examples-2-answer": "Three.", "examples-2-ORDER": "1",
        "examples-3-question": "Fourth?", "examples-3-answer": "Four.", "examples-3-ORDER": "2"})
    assert list(kb.answer_examples.values_list("question", "answer")) == [
        ("Third?", "Three."), ("Fourth?", "Four."), ("First?", "One, edited [1].")]
    changed = AuditEvent.objects.filter(action=Action.KNOWLEDGE_BASE_CHANGED).first()
    assert changed.before["answer_examples"] == ["First? → One [1].", "Second? → Two.",
                                                 "Third? → Three."]
    assert changed.after["answer_examples"] == ["Third? → Three.", "Fourth? → Four.",
                                                "First? → One, edited [1]."]


def test_the_embedding_model_is_fixed_once_the_knowledge_base_has_documents(admin):
    kb = make_kb("travel", language="en")
    add_rows(kb, DocumentStatus.QUEUED)
    client = signed_in(admin)
    form = page(client.get("/console/knowledge-bases/travel/edit/"))
    assert 'id="id_embedding_model"' not in form and 'id="id_language"' not in form
    assert "The language and the embedding model are fixed" in form
    client.post("/console/knowledge-bases/travel/edit/", {
        "name": "Travel", "language": "ko", "embedding_model": settings.EMBEDDING_MODEL_KOREAN,
        "examples-TOTAL_FORMS": "0", "examples-INITIAL_FORMS": "0"})
    kb.refresh_from_db()
    assert (kb.language, kb.embedding_model) == ("en", "all-MiniLM-L6-v2")
    with pytest.raises(administration.SettingFixed):
        administration.change_settings(admin, kb, {"embedding_model": "other-model"})


# --- Deleting ---------------------------------------------------------------------------

def test_deleting_names_what_goes_and_keeps_the_conversations_that_cited_it(admin):
    kb = make_kb("travel", readable_by_all=True)
    load_document(kb, "trains.md", HANDBOOK)
    result = [e for e in ask(admin, QUESTION, knowledge_bases=[kb]) if isinstance(e, AskResult)]
    assert result[0].citations
    chunks = Chunk.objects.filter(knowledge_base=kb).count()
    client = signed_in(admin)
    confirm = page(client.get("/console/knowledge-bases/travel/delete/"))
    assert "1 document, with its original file" in confirm
    assert f"{chunks} passage" in confirm
    assert "1 conversation cites it: it stays" in confirm
    assert KnowledgeBase.objects.filter(slug="travel").exists()  # asking is not deleting

    response = client.post("/console/knowledge-bases/travel/delete/")
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert not KnowledgeBase.objects.filter(slug="travel").exists()
    citation = Citation.objects.get(message_id=result[0].message_id, n=1)
    assert (citation.knowledge_base, citation.chunk, citation.title) == (None, None, "Travel")
    deleted = event(Action.KNOWLEDGE_BASE_DELETED)
    assert (deleted.target, deleted.target_id, deleted.knowledge_base) == ("Travel",
                                                                          str(kb.pk), None)
    assert deleted.before["documents"] == 1 and deleted.before["chunks"] == chunks
    assert "Knowledge base “Travel” deleted." in page(client.get("/console/"))


# --- Re-indexing ------------------------------------------------------------------------

def test_re_indexing_queues_the_re_embedding_and_shows_that_it_started(admin):
    kb = make_kb("travel", language="en")
    load_document(kb, "trains.md", HANDBOOK)
    editor = make_user("editor")
    kb.editor_users.add(editor)
    client = signed_in(editor)
    with mock.patch.object(tasks.reembed_knowledge_base, "delay_on_commit") as enqueue:
        response = client.post("/console/knowledge-bases/travel/reindex/", follow=True)
    enqueue.assert_called_once_with(kb.pk)
    shown = page(response)
    assert "Re-indexing started" in shown and "Re-indexing</span>" in shown
    assert 'hx-get="/console/knowledge-bases/travel/status/"' in shown  # polled until done
    kb.refresh_from_db()
    assert kb.pending_embedding_model == kb.embedding_model
    reindexed = event(Action.REINDEXED)
    assert (reindexed.actor, reindexed.after) == ("editor", {"embedding_model": kb.embedding_model})

    assert client.get("/console/knowledge-bases/travel/status/").status_code == 200

    # What the worker then does: every passage embedded again, the index rebuilt.
    assert tasks.reembed_knowledge_base.apply(args=[kb.pk]).get()["status"] == "swapped"
    kb.refresh_from_db()
    assert kb.pending_embedding_model == ""
    status = client.get("/console/knowledge-bases/travel/status/")
    assert status.status_code == 286 and "Ready" in status.content.decode()  # polling ends
    asked = [e for e in ask(editor, QUESTION, knowledge_bases=[kb]) if isinstance(e, AskResult)]
    assert asked[0].citations


def test_re_indexing_an_empty_knowledge_base_says_there_is_nothing_to_do(admin):
    make_kb("travel")
    response = signed_in(admin).post("/console/knowledge-bases/travel/reindex/", follow=True)
    assert "There is nothing to re-index yet" in page(response)
    assert not AuditEvent.objects.filter(action=Action.REINDEXED).exists()


# --- Access -----------------------------------------------------------------------------

def test_granting_a_group_lets_its_members_ask_and_no_one_else(admin):
    kb = make_kb("travel")
    load_document(kb, "trains.md", HANDBOOK)
    travellers = Group.objects.create(name="travellers")
    member, stranger = make_user("member", groups=("travellers",)), make_user("stranger")
    make_user("lee")
    client = signed_in(admin)
    form = page(client.get("/console/knowledge-bases/travel/access/"))
    assert "travellers" in form
    response = client.post("/console/knowledge-bases/travel/access/", {
        "reader_groups": [travellers.pk], "readers": "lee", "editors": ""})
    assert response.status_code == 302

    answered = [e for e in ask(member, QUESTION, knowledge_bases=[kb]) if isinstance(e, AskResult)]
    assert answered[0].citations
    with pytest.raises(PermissionDenied):
        list(ask(stranger, QUESTION, knowledge_bases=[kb]))
    changed = event(Action.ACCESS_CHANGED)
    assert changed.before == {"reader_users": [], "reader_groups": []}
    assert changed.after == {"reader_users": ["lee"], "reader_groups": ["travellers"]}

    # Taken away again: the member no longer reads it.
    client.post("/console/knowledge-bases/travel/access/", {"readers": "lee", "editors": ""})
    with pytest.raises(PermissionDenied):
        list(ask(member, QUESTION, knowledge_bases=[kb]))
    assert AuditEvent.objects.filter(action=Action.ACCESS_CHANGED).first().after == {
        "reader_groups": []}


def test_access_for_everyone_and_for_editors_and_unknown_names(admin):
    kb = make_kb("travel")
    make_user("kim")
    client = signed_in(admin, language="ko")
    unknown = page(client.post("/console/knowledge-bases/travel/access/",
                               {"readers": "kim, nobody", "editors": ""}))
    assert re.search(r'id="id_readers_error">.*nobody', unknown, re.S)
    assert "사용자가 없습니다" in unknown and not kb.reader_users.exists()
    client.post("/console/knowledge-bases/travel/access/",
                {"readable_by_all": "on", "readers": "", "editors": "kim"})
    kb.refresh_from_db()
    assert kb.readable_by_all and list(kb.editor_users.values_list("username", flat=True)) == [
        "kim"]
    assert event(Action.ACCESS_CHANGED).after == {"readable_by_all": True,
                                                  "editor_users": ["kim"]}
    with pytest.raises(PermissionDenied):
        administration.set_access(make_user("kim2"), kb, readers=[], reader_groups=[],
                                  editors=[], editor_groups=[], readable_by_all=False)


# --- Trying a question ------------------------------------------------------------------

def test_trying_a_question_shows_the_answer_with_citations_as_the_chat_does(admin):
    kb = make_kb("travel", language="en")
    document = load_document(kb, "trains.md", HANDBOOK)
    client = signed_in(admin)
    html = page(client.post("/console/knowledge-bases/travel/try/", {"question": QUESTION}))
    answer = re.search(r'<article class="message answer" id="trial-answer">.*?</article>',
                       html, re.S).group()
    chunk = document.chunks.get()
    assert "travel desk at extension 2200" in answer
    assert re.search(rf'<a class="cite" href="/sources/{chunk.pk}/\?[^"]*#cited"', answer)
    assert "Open in the chat" in answer

    refused = page(client.post("/console/knowledge-bases/travel/try/",
                               {"question": "What is the parking policy for bicycles?"}))
    assert "Not found in the documents" in refused
    empty = page(client.post("/console/knowledge-bases/travel/try/", {"question": " "}))
    assert 'id="id_question_error"' in empty
