"""The chat page: history, the knowledge base picker, asking over SSE from the async view,
stopping (by request and by leaving), feedback, and nobody seeing another person's
conversations."""

from __future__ import annotations

import asyncio
import json
from http.cookies import SimpleCookie
from io import BytesIO

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from citewise.chat.models import Conversation, Feedback, Message
from citewise.knowledge.models import DocumentStatus
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import add_document
from tests.factories import load_document, make_kb, make_user

pytestmark = pytest.mark.django_db(transaction=True)

HANDBOOK = """# IT handbook

## VPN

Employees connect to the office network with the WireGuard VPN client.
The VPN profile is sent by the IT desk when your laptop is issued.

## Passwords

Passwords expire every 90 days. You can reset your password in the self-service portal.
"""

CHAT = "/chat/"
ASK = "/chat/messages/"


@pytest.fixture
def it_kb():
    kb = make_kb("it-handbook")
    load_document(kb, "handbook.md", HANDBOOK)
    return kb


@pytest.fixture
def kim(it_kb):
    user = make_user("kim")
    it_kb.reader_users.add(user)
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def parse_sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads("".join(line[6:] for line in lines if line.startswith("data: ")))
        events.append((name, data))
    return events


async def _stream(user, data: dict, *, headers: dict | None = None,
                  on_event=None) -> tuple[int, list[tuple[str, dict]]]:
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(ASK, data, headers=headers or {})
    if not response.streaming:
        return response.status_code, [("problem", json.loads(response.content))]
    body, events = "", []
    async for chunk in response.streaming_content:
        body += chunk.decode()
        while "\n\n" in body:
            block, body = body.split("\n\n", 1)
            for event in parse_sse(block + "\n\n"):
                events.append(event)
                if on_event:
                    await on_event(event, client)
    return response.status_code, events


def stream(user, data: dict, **kwargs) -> tuple[int, list[tuple[str, dict]]]:
    return async_to_sync(_stream)(user, data, **kwargs)


# --- Signing in, the page, the picker ----------------------------------------------------

def test_the_chat_needs_a_signed_in_person(it_kb):
    response = Client().get(CHAT)
    assert response.status_code == 302 and "next=/chat/" in response["Location"]
    status, [(_, problem)] = stream_anonymous({"question": "VPN?"})
    assert status == 401 and problem["code"] == "signed_out"
    assert problem["login_url"].endswith("?next=/chat/")


def stream_anonymous(data):
    async def run():
        response = await AsyncClient().post(ASK, data)
        return response.status_code, [("problem", json.loads(response.content))]
    return async_to_sync(run)()


def test_the_picker_shows_only_readable_knowledge_bases(kim, it_kb):
    make_kb("board-minutes")
    page = signed_in(kim).get(CHAT)
    assert page.status_code == 200
    picker = page.content.decode().split('class="picker"')[1].split("</details>")[0]
    assert "It Handbook" in picker and "Board Minutes" not in picker
    assert f'value="{it_kb.pk}" checked' in picker


def test_a_person_who_may_read_nothing_is_told_to_ask_for_access(it_kb):
    guest = make_user("guest")
    page = signed_in(guest).get(CHAT).content.decode()
    assert "Ask your administrator for access." in page and 'id="composer"' not in page
    status, [(_, problem)] = stream(guest, {"question": "VPN?"})
    assert status == 403 and problem["code"] == "no_access"


def test_asking_a_knowledge_base_one_may_not_read_is_refused(kim, it_kb):
    secret = make_kb("board-minutes")
    load_document(secret, "minutes.md", "# Minutes\n\nPasswords of the board expire every 7 days.")
    status, [(_, problem)] = stream(kim, {"question": "board passwords",
                                          "knowledge_base": [secret.pk]})
    assert status == 403 and "administrator" in problem["message"]
    assert not Conversation.objects.exists() and not Message.objects.exists()
    # Nor by continuing a conversation that remembers it (access was taken away).
    conversation = Conversation.objects.create(user=kim, title="old")
    conversation.knowledge_bases.set([secret])
    status, _ = stream(kim, {"question": "board passwords", "conversation": conversation.pk})
    assert status == 403 and not conversation.messages.exists()


def test_an_empty_question_is_refused_before_streaming(kim):
    status, [(_, problem)] = stream(kim, {"question": "   "})
    assert status == 400 and problem["code"] == "empty_question"


# --- Streaming ----------------------------------------------------------------------------

def test_an_answer_streams_in_pieces_then_citations_then_the_stored_answer(kim, it_kb):
    status, events = stream(kim, {"question": "How often do passwords expire?",
                                  "knowledge_base": [it_kb.pk]})
    assert status == 200
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done"
    texts = [data["text"] for name, data in events if name == "text"]
    assert len(texts) > 1  # it arrives in more than one piece
    first_citation, last_text = names.index("citation"), len(names) - 1 - names[::-1].index("text")
    assert last_text < first_citation < names.index("done")
    done = events[-1][1]
    assert "".join(texts) == done["answer"] and "90 days" in done["answer"]
    message = Message.objects.get(pk=done["message_id"])
    assert message.conversation.user == kim and not message.stopped
    assert f'id="message-{message.pk}"' in done["html"] and "90 days" in done["html"]
    assert f'href="/sources/{done["citations"][0]["chunk_id"]}/' in done["html"]
    start = events[0][1]
    assert start["conversation_id"] == done["conversation_id"] and start["created"]
    assert f'href="/chat/c/{start["conversation_id"]}/"' in start["history_html"]
    assert list(message.conversation.knowledge_bases.all()) == [it_kb]


def test_a_follow_up_continues_the_conversation_and_keeps_its_knowledge_bases(kim, it_kb):
    other = make_kb("travel")
    other.reader_users.add(kim)
    load_document(other, "travel.md", "# Travel\n\nTrips are booked with the travel desk.")
    _, first = stream(kim, {"question": "How do I connect to the VPN?",
                            "knowledge_base": [it_kb.pk]})
    conversation_id = first[-1][1]["conversation_id"]
    _, follow_up = stream(kim, {"question": "and who sends the profile?",
                                "conversation": conversation_id})
    assert follow_up[0][1]["conversation_id"] == conversation_id
    assert not follow_up[0][1]["created"]
    assert "IT desk" in follow_up[-1][1]["answer"]
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.messages.count() == 4
    assert list(conversation.knowledge_bases.all()) == [it_kb]
    page = signed_in(kim).get(reverse("frontend:conversation", args=[conversation_id]))
    picker = page.content.decode().split('class="picker"')[1].split("</details>")[0]
    assert f'value="{it_kb.pk}" checked' in picker and f'value="{other.pk}">' in picker


def test_a_longer_conversation_costs_no_more_queries_to_show(kim, it_kb):
    """What the person reads is asked once per page, not once per answer."""
    _, first = stream(kim, {"question": "How do I connect to the VPN?",
                            "knowledge_base": [it_kb.pk]})
    conversation_id = first[-1][1]["conversation_id"]
    url = reverse("frontend:conversation", args=[conversation_id])
    client = signed_in(kim)
    with CaptureQueriesContext(connection) as short:
        assert client.get(url).status_code == 200
    for question in ("and who sends the profile?", "How do I connect to the VPN at home?"):
        stream(kim, {"question": question, "conversation": conversation_id})
    with CaptureQueriesContext(connection) as long:
        assert client.get(url).content.decode().count("IT desk") >= 2
    assert len(long.captured_queries) == len(short.captured_queries)


def test_an_answer_from_a_knowledge_base_one_no_longer_reads_is_withheld(kim, it_kb):
    board = make_kb("board")
    board.reader_users.add(kim)
    load_document(board, "minutes.md", "# Board minutes\n\nThe board's vault passwords are "
                                       "rotated every 30 days by the company secretary.")
    _, events = stream(kim, {"question": "Who rotates the vault passwords?",
                             "knowledge_base": [board.pk]})
    assert "secretary" in events[-1][1]["answer"]
    board.reader_users.remove(kim)
    page = signed_in(kim).get(reverse("frontend:conversation",
                                      args=[events[-1][1]["conversation_id"]]))
    html = page.content.decode()
    assert page.status_code == 200 and "secretary" not in html
    assert "no longer" in html
    korean = signed_in(kim).get(reverse("frontend:conversation",
                                        args=[events[-1][1]["conversation_id"]]),
                                HTTP_ACCEPT_LANGUAGE="ko")
    assert "secretary" not in korean.content.decode() and "더 이상" in korean.content.decode()


def test_a_refusal_names_the_knowledge_bases_and_links_the_closest_documents(kim, it_kb):
    _, events = stream(kim, {"question": "What is the capital city of Peru?"})
    names = [name for name, _ in events]
    assert "text" not in names and names[-2:] == ["not_found", "done"]
    html = events[-1][1]["html"]
    assert "not-found" in html and "It Handbook" in html
    chunk_id = it_kb.chunks.values_list("pk", flat=True).first()
    assert f'href="/sources/{chunk_id}/"' in html
    # After a reload, the same.
    page = signed_in(kim).get(reverse("frontend:conversation",
                                      args=[events[-1][1]["conversation_id"]])).content.decode()
    assert "Knowledge bases searched: It Handbook" in page
    assert f'href="/sources/{chunk_id}/"' in page


def test_a_knowledge_base_still_indexing_gets_a_notice(kim, it_kb):
    add_document(SYSTEM, it_kb, BytesIO(b"# New\n\nLater."), original_name="new.md",
                 enqueue=False)
    assert it_kb.documents.filter(status=DocumentStatus.QUEUED).exists()
    _, events = stream(kim, {"question": "How often do passwords expire?"})
    notices = [data for name, data in events if name == "notice"]
    assert notices and notices[0]["code"] == "indexing" and "It Handbook" in notices[0]["text"]


def test_an_llm_failure_is_a_sentence_in_the_page_language(kim, it_kb, settings, monkeypatch):
    from citewise.chat import services
    from inference.errors import ErrorCode, LLMUnavailable

    class DownLLM:  # stands in for an unreachable vLLM server (the refusal is what matters)
        name = "vllm"

        def stream(self, request):
            raise LLMUnavailable("connection refused", code=ErrorCode.UNREACHABLE)
            yield  # a generator, as a real backend

    settings.ANSWER_BACKEND = "vllm"
    settings.LLM_FALLBACK = False
    monkeypatch.setattr(services, "vllm_backend", DownLLM)
    _, events = stream(kim, {"question": "How often do passwords expire?"},
                       headers={"Accept-Language": "ko"})
    (error,) = [data for name, data in events if name == "error"]
    assert error["code"] == "llm_unreachable"
    assert error["text"].startswith("답변 서비스에 연결할 수 없습니다")
    # The question is kept with a failed answer (its code, no text), shown as after a
    # reload: the sentence in the page's language, and Regenerate to try again.
    name, done = events[-1]
    assert (name, done["error_code"]) == ("done", "llm_unreachable")
    assert error["text"] in done["html"] and 'class="regenerate"' in done["html"]
    (answer,) = Message.objects.filter(role="assistant")
    assert (answer.text, answer.error_code, answer.grounded) == ("", "llm_unreachable", False)


# --- Stopping -----------------------------------------------------------------------------

class SlowLLM:
    """Stands in for the LLM (the tiny test model cannot be told to write a long answer):
    streams many pieces slowly and records whether its request was closed. The closing
    itself is the real generator protocol the vLLM backend relies on (its HTTP stream is
    closed in a finally block; tests/vllm prove vLLM aborts the request)."""

    name = "vllm"

    def __init__(self, pieces: int = 1000) -> None:
        self.closed = False
        self.sent = 0
        self.pieces = pieces

    def stream(self, request):
        import time

        from inference.backends.base import Delta, Done, Usage

        try:
            yield Delta("Passwords expire every 90 days [1].")
            for _ in range(self.pieces):
                self.sent += 1
                time.sleep(0.01)
                yield Delta(" More.")
            yield Done(Usage(10, self.pieces))
        finally:
            self.closed = True

    def rewrite(self, history, question):
        from inference.backends.base import Usage

        return question, Usage(0, 0)


@pytest.fixture
def slow_llm(settings, monkeypatch):
    from citewise.chat import services

    settings.ANSWER_BACKEND = "vllm"
    llm = SlowLLM()
    monkeypatch.setattr(services, "vllm_backend", lambda: llm)
    return llm


def test_stop_closes_the_answer_and_stores_it_as_stopped(kim, it_kb, slow_llm):
    texts = []

    async def press_stop(event, client):
        name, data = event
        if name == "start":
            texts.append(data["stream_id"])
        elif name == "text":
            texts.append(data["text"])
            if len(texts) == 4:  # the stream id and three pieces
                response = await client.post("/chat/messages/stop", {"stream_id": texts[0]})
                assert response.status_code == 204

    _, events = stream(kim, {"question": "How often do passwords expire?"},
                       on_event=press_stop)
    assert slow_llm.closed and slow_llm.sent < 200
    name, done = events[-1]
    assert name == "done" and done["stopped"]
    message = Message.objects.get(pk=done["message_id"])
    assert message.stopped and message.text.startswith("Passwords expire every 90 days")
    assert "Stopped" in done["html"]
    assert "Stopped" in signed_in(kim).get(
        reverse("frontend:conversation", args=[message.conversation_id])).content.decode()


def test_a_stop_from_another_person_does_nothing(kim, it_kb, slow_llm):
    slow_llm.pieces = 60
    slow_llm_pieces = []

    async def someone_else_stops(event, client):
        name, data = event
        if name == "start":
            other = AsyncClient()
            await other.aforce_login(await make_user_async("lee"))
            await other.post("/chat/messages/stop", {"stream_id": data["stream_id"]})
        elif name == "text":
            slow_llm_pieces.append(data)

    _, events = stream(kim, {"question": "How often do passwords expire?"},
                       on_event=someone_else_stops)
    assert not events[-1][1]["stopped"] and len(slow_llm_pieces) > 50


async def make_user_async(username):
    from asgiref.sync import sync_to_async

    return await sync_to_async(make_user)(username)


def test_leaving_the_page_closes_the_answer(kim, it_kb, slow_llm):
    """The browser drops the connection (Stop without the stop request, or the tab closed):
    the ASGI server tells Django, which cancels the stream; the answer is closed and
    stored as stopped."""
    from citewise.asgi import application

    client = Client()
    client.force_login(kim)
    csrf = "a" * 32  # the browser's CSRF cookie and header (the test client skips the check)
    cookie = SimpleCookie(client.cookies).output(header="", sep=";").strip() + f"; csrftoken={csrf}"
    body = f"question=How+often+do+passwords+expire%3F&knowledge_base={it_kb.pk}".encode()

    async def run():
        sent, disconnect = [], asyncio.Event()

        async def receive():
            if not sent:
                sent.append("body")
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body" and b"event: text" in message.get(
                    "body", b"") and not disconnect.is_set():
                # A slow network: more pieces wait in the stream when the browser goes,
                # so the cancellation lands while the next one is ready to be taken.
                await asyncio.sleep(0.2)
                disconnect.set()

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": ASK, "raw_path": ASK.encode(),
                 "query_string": b"", "root_path": "", "server": ("testserver", 80),
                 "client": ("127.0.0.1", 1234),
                 "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode()),
                             (b"x-csrftoken", csrf.encode()),
                             (b"content-type", b"application/x-www-form-urlencoded")]}
        await asyncio.wait_for(application(scope, receive, send), timeout=30)

    async_to_sync(run)()
    for _ in range(100):  # the stream's thread closes the answer just after the request ends
        if Message.objects.filter(role="assistant", stopped=True).exists():
            break
        async_to_sync(asyncio.sleep)(0.05)
    assert slow_llm.closed and slow_llm.sent < 200
    assert Message.objects.get(role="assistant").stopped


# --- Other people's conversations, history, feedback --------------------------------------

@pytest.fixture
def kims_answer(kim, it_kb) -> Message:
    _, events = stream(kim, {"question": "How often do passwords expire?"})
    return Message.objects.get(pk=events[-1][1]["message_id"])


def test_another_persons_conversation_is_not_found(kims_answer, it_kb):
    lee = make_user("lee")
    it_kb.reader_users.add(lee)
    conversation = kims_answer.conversation
    client = signed_in(lee)
    assert client.get(f"/chat/c/{conversation.pk}/").status_code == 404
    assert client.post(f"/chat/c/{conversation.pk}/rename", {"title": "mine"}).status_code == 404
    assert client.post(f"/chat/c/{conversation.pk}/delete").status_code == 404
    assert client.post(f"/chat/messages/{kims_answer.pk}/feedback",
                       {"rating": "down"}).status_code == 404
    status, [(_, problem)] = stream(lee, {"question": "VPN?", "conversation": conversation.pk})
    assert status == 404 and problem["code"] == "not_found"
    assert conversation.title != "mine" and Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Feedback.objects.exists() and conversation.messages.count() == 2
    assert conversation.title not in client.get(CHAT).content.decode()


def test_the_history_lists_ones_conversations_newest_first(kim, it_kb):
    older = Conversation.objects.create(user=kim, title="About printers")
    newer = Conversation.objects.create(user=kim, title="About the VPN")
    Conversation.objects.create(user=make_user("lee"), title="Lee's secret plans")
    page = signed_in(kim).get(CHAT).content.decode()
    assert page.index("About the VPN") < page.index("About printers")
    assert "secret plans" not in page
    assert older.pk != newer.pk


def test_rename_and_delete(kims_answer):
    client = signed_in(kims_answer.conversation.user)
    conversation = kims_answer.conversation
    response = client.post(f"/chat/c/{conversation.pk}/rename", {"title": "  Password rules "})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "Password rules"
    client.post(f"/chat/c/{conversation.pk}/rename", {"title": "   "})  # blank: kept
    conversation.refresh_from_db()
    assert conversation.title == "Password rules"
    assert "Password rules" in client.get(CHAT).content.decode()
    response = client.post(f"/chat/c/{conversation.pk}/delete")
    assert response.status_code == 302 and response["Location"] == CHAT + "#question"
    assert not Conversation.objects.exists() and not Message.objects.exists()
    assert client.get(f"/chat/c/{conversation.pk}/").status_code == 404


def test_renaming_or_deleting_another_conversation_goes_back_to_the_one_being_read(kims_answer):
    kim = kims_answer.conversation.user
    reading = kims_answer.conversation
    other = Conversation.objects.create(user=kim, title="About printers")
    client = signed_in(kim)
    page = client.get(f"/chat/c/{reading.pk}/").content.decode()
    assert f'name="next" value="/chat/c/{reading.pk}/"' in page
    back = {"next": f"/chat/c/{reading.pk}/"}
    response = client.post(f"/chat/c/{other.pk}/rename", {"title": "Printers", **back})
    assert response["Location"] == f"/chat/c/{reading.pk}/"
    response = client.post(f"/chat/c/{other.pk}/delete", back)
    assert response["Location"] == f"/chat/c/{reading.pk}/"
    assert not Conversation.objects.filter(pk=other.pk).exists()
    # Another site is no place to go back to; deleting the one being read starts a new one
    # with the focus in the composer.
    response = client.post(f"/chat/c/{reading.pk}/delete", {"next": "https://evil.example/"})
    assert response["Location"] == "/chat/#question"


def test_the_page_deletes_without_leaving_and_hears_it_in_json(kims_answer):
    client = signed_in(kims_answer.conversation.user)
    conversation_id = kims_answer.conversation_id
    response = client.post(f"/chat/c/{conversation_id}/delete",
                           headers={"Accept": "application/json"})
    assert response.json() == {"id": conversation_id, "deleted": True}
    assert not Conversation.objects.exists()


def test_a_question_of_several_lines_makes_a_one_line_title(kim):
    status, events = stream(kim, {"question": "How often do passwords expire?\r\n\n"
                                              "Please  be brief."})
    assert status == 200
    assert Conversation.objects.get().title == "How often do passwords expire? Please be brief."
    assert events[0][1]["title"] == "How often do passwords expire? Please be brief."


def test_regenerate_replaces_the_last_answer_and_its_question(kims_answer):
    kim, conversation = kims_answer.conversation.user, kims_answer.conversation
    question = "How often do passwords expire?"
    _, events = stream(kim, {"question": question, "conversation": conversation.pk})
    last = Message.objects.get(pk=events[-1][1]["message_id"])

    _, events = stream(kim, {"question": question, "conversation": conversation.pk,
                             "replace": last.pk})
    assert events[0][1]["replaced"] is True
    texts = list(conversation.messages.order_by("pk").values_list("role", "text"))
    assert [role for role, _ in texts] == ["user", "assistant", "user", "assistant"]
    assert not Message.objects.filter(pk=last.pk).exists()
    newest = Message.objects.get(pk=events[-1][1]["message_id"])
    assert newest.conversation == conversation and "90 days" in newest.text

    # Only the last answer is ever replaced: an older one stays, and the answer follows.
    _, events = stream(kim, {"question": question, "conversation": conversation.pk,
                             "replace": kims_answer.pk})
    assert events[0][1]["replaced"] is False
    assert conversation.messages.count() == 6


def test_feedback_is_stored_and_replaced(kims_answer):
    client = signed_in(kims_answer.conversation.user)
    url = f"/chat/messages/{kims_answer.pk}/feedback"
    response = client.post(url, {"rating": "up"}, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json()["rating"] == "up"
    client.post(url, {"rating": "down", "comment": "It is 60 days now."})
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == ("down", "It is 60 days now.")
    assert feedback.user == kims_answer.conversation.user
    page = client.get(f"/chat/c/{kims_answer.conversation_id}/").content.decode()
    assert "It is 60 days now." in page
    assert client.post(url, {"rating": "meh"}).status_code == 400
    # A question is not an answer: no feedback on it.
    question = kims_answer.conversation.messages.get(role="user")
    assert client.post(f"/chat/messages/{question.pk}/feedback",
                       {"rating": "up"}).status_code == 404


def test_a_stored_answer_shows_its_citations_as_chips_with_their_sources(kims_answer):
    page = signed_in(kims_answer.conversation.user).get(
        f"/chat/c/{kims_answer.conversation_id}/").content.decode()
    citation = kims_answer.citations.get()
    assert f'class="cite" href="/sources/{citation.chunk_id}/' in page
    assert 'class="cite-preview"' in page and "Passwords expire every 90 days" in page


def test_a_citation_of_a_knowledge_base_no_longer_readable_is_not_shown(kims_answer, it_kb):
    user = kims_answer.conversation.user
    it_kb.reader_users.remove(user)
    page = signed_in(user).get(f"/chat/c/{kims_answer.conversation_id}/").content.decode()
    assert "handbook.md" not in page and "/sources/" not in page


def test_the_page_speaks_korean(kims_answer):
    client = signed_in(kims_answer.conversation.user)
    page = client.get(f"/chat/c/{kims_answer.conversation_id}/",
                      headers={"Accept-Language": "ko"}).content.decode()
    assert "새 대화" in page and "보내기" in page and "출처" in page
    strings = page.split('data-strings="')[1].split('"')[0]
    assert "답변이 완료되었습니다" in strings.replace("&quot;", '"')
