"""Asking: cited answers from the documents, "not found" when they don't say, follow-ups,
permissions, and a clear notice when the LLM is down."""

from __future__ import annotations

import json
import re
import socket
import time
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from citewise.chat import backends
from citewise.chat.events import AskCitation, AskFailed, AskNotFound, AskNotice, AskResult, AskText
from citewise.chat.models import Citation, Conversation, Message, UnansweredQuestion
from citewise.chat.services import ask
from citewise.knowledge.models import Chunk
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import create_knowledge_base
from tests.factories import load_document, make_kb, make_staff, make_user

pytestmark = pytest.mark.django_db(transaction=True)

HANDBOOK = """# IT handbook

## VPN

Employees connect to the office network with the WireGuard VPN client.
The VPN profile is sent by the IT desk when your laptop is issued.

## Passwords

Passwords expire every 90 days. You can reset your password in the self-service portal.

## Printers

The printers on the third floor accept jobs from the Follow-Me queue only.
"""

LEAVE_KO = """# 휴가 규정

직원은 입사 1년 후 연간 15일의 연차 휴가를 받는다.
휴가 신청은 최소 3일 전에 팀장에게 제출해야 한다.
사용하지 않은 연차는 다음 해 3월까지 이월할 수 있다.
"""


@pytest.fixture
def it_kb():
    kb = make_kb("it-handbook")
    load_document(kb, "handbook.md", HANDBOOK)
    return kb


def answer(actor, question, **kwargs) -> tuple[str, AskResult]:
    """What a page shows (the streamed text, or the refusal that replaces it) and the
    stored answer."""
    events = list(ask(actor, question, **kwargs))
    streamed = "".join(e.text for e in events if isinstance(e, AskText))
    refusals = [e.text for e in events if isinstance(e, AskNotFound)]
    (result,) = [e for e in events if isinstance(e, AskResult)]
    return (refusals[0] if refusals else streamed), result


def test_an_answer_quotes_the_documents_and_cites_each_claim(it_kb):
    streamed, result = answer(SYSTEM, "How often do passwords expire?")
    assert streamed == result.answer
    assert "Passwords expire every 90 days." in result.answer
    assert not result.not_found and result.grounded
    assert result.citations and all(c.supported for c in result.citations)
    cited = result.citations[0]
    assert f"[{cited.n}]" in result.answer
    chunk = Chunk.objects.get(pk=cited.chunk_id)
    assert "90 days" in chunk.text and cited.document == "handbook.md"
    assert cited.url == f"/sources/{chunk.pk}/?{urlencode({'quote': cited.snippet})}#cited"
    assert "90 days" in cited.snippet  # the viewer highlights this sentence
    assert result.usage.completion_tokens > 0 and result.usage.prompt_tokens > 0
    stored = Message.objects.get(pk=result.message_id)
    assert stored.role == "assistant" and stored.completion_tokens == result.usage.completion_tokens
    assert Citation.objects.filter(message=stored).count() == len(result.citations)


def test_every_answer_sentence_is_in_a_source(it_kb):
    _, result = answer(SYSTEM, "How do I connect to the office network?")
    chunks = " ".join(" ".join(t.split()) for t in Chunk.objects.values_list("text", flat=True))
    quotes = [q.strip() for q in re.split(r"\[\d+(?:, \d+)*\]", result.answer) if q.strip()]
    assert quotes
    for quote in quotes:
        assert quote in chunks


def test_a_question_the_documents_do_not_answer_is_refused_and_recorded(it_kb):
    _, result = answer(SYSTEM, "What is the capital city of Peru?")
    assert result.not_found and not result.citations
    assert not result.grounded  # a refusal states nothing: never "not found" and grounded
    assert result.answer.startswith("I couldn't find the answer to that in It Handbook.")
    assert result.closest_documents[0]["document"] == "handbook.md"
    gap = UnansweredQuestion.objects.get()
    assert gap.question == "What is the capital city of Peru?"
    assert list(gap.knowledge_bases.all()) == [it_kb]
    # How close the closest passage came (its cosine similarity), not the answerability
    # score, which is 0.0 for nearly every question the documents miss.
    assert gap.best_score is not None and gap.best_score != 0.0 and gap.best_score < 0.5


def test_a_question_on_the_same_subject_the_documents_do_not_answer_is_refused(it_kb):
    """Sharing the knowledge base's everyday words ("VPN", "office", "employees") is not
    evidence: the question's own terms ("contractors", "parking") are nowhere in it. (A
    plain share of the question's words, 2 of 5, answered it with quotes about VPNs.)"""
    load_document(it_kb, "security.md",
                  "# Security\n\nEmployees lock their screens in the office. "
                  "Outside the office, employees need the VPN for every service.\n")
    load_document(it_kb, "travel.md",
                  "# Travel\n\nEmployees book trips with the office travel desk. "
                  "Hotels must offer a VPN-friendly network for employees.\n")
    _, result = answer(SYSTEM, "Do contractors get VPN parking at the office?")
    assert result.not_found and not result.citations
    _, answered = answer(SYSTEM, "Which VPN client do employees use?")
    assert not answered.not_found and "WireGuard" in answered.answer


def test_korean_questions_get_korean_answers():
    kb = make_kb("hr")
    load_document(kb, "leave.md", LEAVE_KO)
    _, result = answer(SYSTEM, "연차 휴가는 며칠 받나요?")
    assert "15일" in result.answer and result.citations
    _, refused = answer(SYSTEM, "회사 주차장은 어디에 있나요?")
    assert refused.not_found and "찾을 수 없습니다" in refused.answer


def test_a_question_in_another_language_than_the_documents_is_told_so(it_kb):
    """A Korean question matches no word of English documents: the refusal says in which
    language to ask, in the asker's language; an English refusal there says nothing of it."""
    it_kb.refresh_from_db()
    assert it_kb.documents_language == "en"
    text, result = answer(SYSTEM, "VPN 프로필은 누가 보내나요?")
    assert result.not_found
    assert "영어로 작성되어" in text
    english, _ = answer(SYSTEM, "What is the capital city of Peru?")
    assert "Korean" not in english


def test_a_refusal_that_found_nothing_names_no_closest_documents(it_kb):
    """Nothing of a Korean question is in English documents (no shared word, and the
    English model's similarities carry no signal): listing "the closest documents" would
    only name the knowledge base's first files."""
    text, result = answer(SYSTEM, "문서는 어떻게 업로드하나요?")
    assert result.not_found and result.closest_documents == []
    assert "handbook.md" not in text
    _, near = answer(SYSTEM, "What is the capital city of Peru?")
    assert near.not_found


def test_a_korean_knowledge_base_answers_with_the_korean_embedding_model():
    kb = create_knowledge_base(SYSTEM, name="인사 규정", slug="hr-ko", language="ko")
    assert kb.embedding_model == "universal-sentence-encoder-multilingual-3"
    load_document(kb, "leave.md", LEAVE_KO)
    _, result = answer(SYSTEM, "휴가 신청은 언제까지 해야 하나요?", knowledge_bases=[kb])
    assert "3일 전에 팀장에게 제출" in result.answer and result.grounded
    assert Chunk.objects.get(pk=result.citations[0].chunk_id).document.knowledge_base == kb


def test_brackets_quoted_from_a_document_are_not_citations(it_kb):
    """A Python FAQ quote "tuple([1, 2, 3])" was read as markers [1, 2, 3] and cited three
    passages for one quote."""
    load_document(it_kb, "python.md", "# Python tips\n\n## Tuples\n\nThe type constructor "
                                      "tuple(seq) converts any sequence into a tuple. For example, "
                                      "tuple([1, 2, 3]) yields (1, 2, 3).\n")
    _, result = answer(SYSTEM, "What does the tuple constructor yield for a list, for example?")
    assert "tuple([1, 2, 3]) yields (1, 2, 3)." in result.answer
    assert len({c.chunk_id for c in result.citations}) == 1
    assert all("tuple(seq)" in Chunk.objects.get(pk=c.chunk_id).text for c in result.citations)


def test_a_follow_up_keeps_the_subject_of_the_conversation(it_kb):
    from citewise.chat.models import Conversation

    _, first = answer(SYSTEM, "How do I connect to the VPN?")
    conversation = Conversation.objects.get(pk=first.conversation_id)
    _, follow_up = answer(SYSTEM, "and who sends the profile?", conversation=conversation)
    assert "vpn" in follow_up.search_query.casefold()
    assert "IT desk" in follow_up.answer
    assert conversation.messages.count() == 4


def test_answers_only_from_readable_knowledge_bases(it_kb):
    secret = make_kb("board-minutes")
    load_document(secret, "minutes.md", "# Minutes\n\nPasswords of the board expire every 7 days.")
    employee = make_user("kim")
    it_kb.reader_users.add(employee)
    _, result = answer(employee, "How often do passwords expire?")
    assert {c.knowledge_base for c in result.citations} == {"it-handbook"}
    assert "7 days" not in result.answer
    with pytest.raises(PermissionDenied):
        list(ask(employee, "board passwords", knowledge_bases=[secret]))
    with pytest.raises(PermissionDenied):
        list(ask(make_user("guest"), "anything"))


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture
def unreachable_llm(settings):
    settings.ANSWER_BACKEND = "vllm"
    settings.VLLM_BASE_URL = closed_port_url()
    settings.VLLM_MODEL = "company-llm"
    settings.VLLM_TIMEOUT = 2.0
    backends.vllm_backend.cache_clear()
    yield
    backends.vllm_backend.cache_clear()


def test_a_down_llm_gives_a_clear_error_quickly(it_kb, unreachable_llm):
    began = time.monotonic()
    events = list(ask(SYSTEM, "How often do passwords expire?"))
    assert time.monotonic() - began < 30
    (failure,) = [e for e in events if isinstance(e, AskFailed)]
    assert "answer service" in failure.message.casefold()
    assert failure.code == "llm_unreachable"  # what a page translates
    assert not [e for e in events if isinstance(e, AskResult)]


def test_a_down_llm_can_fall_back_to_quotes_with_a_notice(it_kb, unreachable_llm, settings):
    settings.LLM_FALLBACK = True
    events = list(ask(SYSTEM, "How often do passwords expire?"))
    (notice,) = [e for e in events if isinstance(e, AskNotice)]
    assert "unavailable" in notice.text and notice.code == "llm_fallback"
    (result,) = [e for e in events if isinstance(e, AskResult)]
    assert result.backend == "extractive" and result.notice == notice.text
    assert "90 days" in result.answer and result.grounded


def test_ask_command_json_and_question_lists(it_kb, tmp_path):
    out = StringIO()
    call_command("ask", "How often do passwords expire?", "--kb", "it-handbook", "--json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"question", "answer", "not_found", "grounded", "citations", "usage"}
    assert set(data["citations"][0]) == {"n", "chunk_id", "document", "title", "page", "line",
                                         "heading_path", "snippet", "supported"}
    questions = tmp_path / "q.txt"
    questions.write_text("How often do passwords expire?\nWhat is the capital of Peru?\n")
    out = StringIO()
    call_command("ask", "--questions", str(questions), "--kb", "it-handbook", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["not_found"] for line in lines] == [False, True]


def test_a_backend_that_finds_nothing_is_a_refusal_too(it_kb, settings, monkeypatch):
    from citewise.chat import services
    from inference.backends.extractive import ExtractiveBackend, ExtractiveConfig

    settings.ANSWERABILITY_THRESHOLD = 0.0  # let every question through to the backend
    # A backend so strict that no sentence qualifies: it answers "not found" itself.
    strict = ExtractiveBackend(config=ExtractiveConfig(min_score=1.1))
    monkeypatch.setattr(services, "extractive_backend", lambda kb: strict)
    streamed, result = answer(SYSTEM, "Zebra migration patterns in Tanzania?")
    assert result.not_found and not result.citations and streamed == result.answer
    assert UnansweredQuestion.objects.filter(question__startswith="Zebra").exists()
    # Like any refusal, it points at the documents that came closest.
    assert result.closest_documents[0]["document"] == "handbook.md"
    assert result.answer.endswith("The closest documents are:\n- IT handbook")


class ScriptedLLM:
    """Stands in for the LLM: the tiny vLLM test model writes random text, and this test
    needs one fixed paraphrase with a citation. Everything around it is real."""

    name = "vllm"

    def stream(self, request):
        from inference.backends.base import Delta, Done, Usage

        yield Delta("Staff change their passwords every three months [1].")
        yield Done(Usage(10, 10))

    def rewrite_question(self, history, question):
        return self.rewrite(history, question)[0]

    def rewrite(self, history, question):
        from inference.backends.base import Usage

        return f"{question} (passwords)", Usage(5, 3)


@pytest.fixture(scope="module")
def tiny_nli_model(tmp_path_factory):
    from tests.models.tiny_nli import build_tiny_nli_model

    return build_tiny_nli_model(tmp_path_factory.mktemp("nli"))


def test_a_configured_entailment_model_decides_support_for_paraphrases(
        it_kb, settings, monkeypatch, tiny_nli_model):
    from citewise.chat import services

    settings.ANSWER_BACKEND = "vllm"
    monkeypatch.setattr(services, "vllm_backend", lambda: ScriptedLLM())
    settings.ENTAILMENT_MODEL = str(tiny_nli_model)
    backends.entailment_model.cache_clear()
    try:
        # The random model's probabilities sit near 1/3: the threshold shows it decided.
        settings.ENTAILMENT_THRESHOLD = 0.0
        _, accepted = answer(SYSTEM, "How often do passwords expire?")
        settings.ENTAILMENT_THRESHOLD = 0.99
        _, rejected = answer(SYSTEM, "How often do passwords expire?")
    finally:
        backends.entailment_model.cache_clear()
    assert accepted.citations and all(c.supported for c in accepted.citations)
    assert accepted.grounded
    assert rejected.citations and not any(c.supported for c in rejected.citations)
    assert not rejected.grounded


def test_an_entailment_model_that_cannot_load_leaves_answers_working(it_kb, settings, caplog):
    settings.ENTAILMENT_MODEL = "/nonexistent/nli-model"
    backends.entailment_model.cache_clear()
    try:
        _, result = answer(SYSTEM, "How often do passwords expire?")
    finally:
        backends.entailment_model.cache_clear()
    assert "Passwords expire every 90 days." in result.answer and result.grounded
    assert "CITEWISE_ENTAILMENT_MODEL=/nonexistent/nli-model could not be loaded" in caplog.text


class DecliningLLM(ScriptedLLM):
    """The LLM following its rule "if the sources do not contain the answer, say so"."""

    def stream(self, request):
        from inference.backends.base import Delta, Done, Usage

        yield Delta("I couldn't find the answer to that in It Handbook.")
        yield Done(Usage(10, 12))


def test_an_llm_that_says_the_sources_do_not_answer_is_a_refusal(it_kb, settings, monkeypatch):
    from citewise.chat import services

    settings.ANSWER_BACKEND = "vllm"
    monkeypatch.setattr(services, "vllm_backend", lambda: DecliningLLM())
    streamed, result = answer(SYSTEM, "How often do passwords expire?")
    assert result.not_found and streamed == result.answer
    assert result.answer.endswith("The closest documents are:\n- IT handbook")
    assert UnansweredQuestion.objects.filter(question__startswith="How often").exists()


def test_usage_report_and_gap_report_show_what_answers_cost_and_missed(it_kb, client):
    answer(SYSTEM, "How often do passwords expire?")
    answer(SYSTEM, "What is the capital city of Peru?")
    out = StringIO()
    call_command("usage_report", "--days", "7", "--json", stdout=out)
    (row,) = json.loads(out.getvalue())["rows"]
    assert (row["knowledge_base"], row["backend"]) == ("it-handbook", "extractive")
    assert (row["answers"], row["not_found"]) == (2, 1)
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0

    client.force_login(make_user("root", superuser=True))
    gaps = client.get("/admin/chat/unansweredquestion/").content.decode()
    assert "What is the capital city of Peru?" in gaps and "How often" not in gaps
    usage = client.get("/admin/chat/answer/").content.decode()
    assert usage.count('class="field-prompt_tokens"') == 2


def test_staff_see_the_gaps_of_the_knowledge_bases_they_edit_only(it_kb, client):
    hr = make_kb("hr")
    load_document(hr, "leave.md", LEAVE_KO)
    answer(SYSTEM, "What is the capital city of Peru?", knowledge_bases=[it_kb])
    answer(SYSTEM, "회사 주차장은 어디에 있나요?", knowledge_bases=[hr])
    editor = make_staff("hr-editor", app_label="chat")
    hr.editor_users.add(editor)
    client.force_login(editor)
    gaps = client.get("/admin/chat/unansweredquestion/").content.decode()
    assert "주차장" in gaps and "Peru" not in gaps


def test_a_knowledge_base_set_to_an_llm_the_server_lacks_gets_a_clear_error(settings):
    settings.VLLM_BASE_URL = ""
    settings.ANSWER_BACKEND = "extractive"
    backends.vllm_backend.cache_clear()
    kb = make_kb("llm-kb", answer_backend="vllm")
    load_document(kb, "handbook.md", HANDBOOK)
    events = list(ask(SYSTEM, "How often do passwords expire?", knowledge_bases=[kb]))
    (failed,) = [e for e in events if isinstance(e, AskFailed)]
    assert "No language model is configured" in failed.message
    assert failed.code == "llm_not_configured"
    settings.LLM_FALLBACK = True
    _, result = answer(SYSTEM, "How often do passwords expire?", knowledge_bases=[kb])
    assert "Passwords expire every 90 days." in result.answer and result.notice
    backends.vllm_backend.cache_clear()


def test_a_follow_ups_rewrite_tokens_count_in_the_answers_usage(it_kb, settings, monkeypatch):
    from citewise.chat import services

    settings.ANSWER_BACKEND = "vllm"
    monkeypatch.setattr(services, "vllm_backend", lambda: ScriptedLLM())
    _, first = answer(SYSTEM, "How often do passwords expire?")
    conversation = Conversation.objects.get(pk=first.conversation_id)
    _, follow_up = answer(SYSTEM, "And the reset?", conversation=conversation)
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (10, 10)
    assert (follow_up.usage.prompt_tokens, follow_up.usage.completion_tokens) == (15, 13)
    stored = Message.objects.get(pk=follow_up.message_id)
    assert (stored.prompt_tokens, stored.completion_tokens) == (15, 13)


def test_events_arrive_in_the_order_a_page_shows_them(it_kb):
    """Text first, then one verified citation per cited source, then the stored answer;
    a refusal is one not-found event instead of text."""
    events = list(ask(SYSTEM, "How often do passwords expire?"))
    kinds = [e.type for e in events]
    assert kinds[0] == "text" and kinds[-1] == "done"
    cited = [e.citation for e in events if isinstance(e, AskCitation)]
    assert kinds.index("citation") > max(i for i, k in enumerate(kinds) if k == "text")
    assert cited == events[-1].citations and all(c.supported for c in cited)
    assert json.loads(json.dumps(events[-1].as_json()))["citations"][0]["url"] == cited[0].url

    refused = list(ask(SYSTEM, "What is the capital city of Peru?"))
    assert [e.type for e in refused] == ["not_found", "done"]
    assert refused[0].knowledge_bases == ["It Handbook"]
    assert refused[0].closest_documents[0]["document"] == "handbook.md"
    assert refused[0].text == refused[1].answer and refused[1].not_found


class SlowLLM:
    """Stands in for the LLM (the tiny test model cannot be told to write a long answer):
    streams many pieces and records whether its request was closed. The closing itself is
    the real Python generator protocol the vLLM backend relies on (its HTTP stream is
    closed in a finally block; tests/vllm prove vLLM aborts the request)."""

    name = "vllm"

    def __init__(self) -> None:
        self.closed = False
        self.sent = 0

    def stream(self, request):
        from inference.backends.base import Delta, Done, Usage

        try:
            yield Delta("Passwords expire every 90 days [1].")
            for _ in range(1000):
                self.sent += 1
                yield Delta(" More.")
            yield Done(Usage(10, 1000))
        finally:
            self.closed = True

    def rewrite(self, history, question):
        from inference.backends.base import Usage

        return question, Usage(0, 0)


def test_stopping_an_answer_cancels_the_model_and_stores_the_partial_answer(
        it_kb, settings, monkeypatch):
    from citewise.chat import services

    settings.ANSWER_BACKEND = "vllm"
    llm = SlowLLM()
    monkeypatch.setattr(services, "vllm_backend", lambda: llm)
    events = ask(SYSTEM, "How often do passwords expire?")
    shown = [next(events) for _ in range(3)]
    events.close()  # the person pressed Stop
    assert llm.closed and llm.sent < 10
    message = Message.objects.filter(role="assistant").latest("pk")
    assert message.stopped and not message.not_found
    assert message.text.startswith("".join(e.text for e in shown))
    assert len(message.text) < 100
    assert list(message.citations.values_list("n", flat=True)) == [1]
    assert message.conversation.messages.filter(role="user").count() == 1
