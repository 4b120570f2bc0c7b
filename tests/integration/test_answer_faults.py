"""The answer service refusing connections, answering 500 or staying silent, behind a
fault-injecting proxy (tests/fault_proxy.py; no model is needed: nothing reaches one):
every door gives a clear error with its code within the timeout, nothing is stored as a
complete answer, and the optional fallback quotes the documents instead. The same faults
in the middle of a real model's answer are in tests/vllm/test_answer_faults.py."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from citewise.chat import backends
from citewise.chat.events import AskFailed, AskNotice, AskResult, AskText
from citewise.chat.models import Message
from citewise.chat.services import ask
from citewise.knowledge.permissions import SYSTEM
from inference.backends.base import Turn
from tests.factories import make_user
from tests.fault_proxy import FaultProxy
from tests.integration.api_support import kb_a, kb_b, new_key, owner  # noqa: F401
from tests.integration.live_server import start_server
from tests.integration.test_chat_page import signed_in
from tests.integration.test_chat_page import stream as chat_stream

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT_S = 2.0  # VLLM_TIMEOUT of these tests
SILENCE_S = 120.0  # how long the "delay" fault keeps the answer service silent
# Not a speed limit: far below SILENCE_S, so a request that waited for the silent service
# instead of timing out fails; far above TIMEOUT_S, so a loaded machine passes.
HUNG_S = 45.0
QUESTION = "How often do passwords expire?"
# (fault, its options, the code every door reports)
FAULTS = [
    ("refuse", {}, "llm_unreachable"),
    ("status", {"status": 500}, "llm_server_error"),
    ("delay", {"delay_s": SILENCE_S}, "llm_timeout"),
]

KOREAN = {  # what the chat page says in Korean for each code (frontend/chat_messages.py)
    "llm_unreachable": "답변 서비스에 연결할 수 없습니다. 몇 분 뒤에 다시 시도하고, 계속되면 "
                       "관리자에게 알려 주세요.",
    "llm_server_error": "답변 서비스에 오류가 났습니다. 나중에 다시 시도하세요.",
    "llm_timeout": "답변 서비스의 응답이 너무 늦습니다. 다시 시도하세요.",
}


@pytest.fixture
def proxy():
    proxy = FaultProxy()  # no upstream: a request that gets through is a 502
    yield proxy
    proxy.close()


@pytest.fixture
def llm_behind(proxy, settings):
    settings.ANSWER_BACKEND = "vllm"
    settings.VLLM_BASE_URL = proxy.base_url
    settings.VLLM_MODEL = "company-llm"
    settings.VLLM_TIMEOUT = TIMEOUT_S
    backends.vllm_backend.cache_clear()
    yield proxy
    backends.vllm_backend.cache_clear()


def within_timeout(began: float) -> None:
    assert time.monotonic() - began < HUNG_S, "the request waited for the failing service"


def failed_answers() -> list[tuple[str, str, bool]]:
    return list(Message.objects.filter(role="assistant")
                .values_list("text", "error_code", "grounded"))


@pytest.mark.parametrize(("fault", "options", "code"), FAULTS)
def test_the_ask_service_fails_clearly_or_falls_back(
        kb_a, llm_behind, settings, fault, options, code):  # noqa: F811
    llm_behind.set(fault, **options)
    began = time.monotonic()
    events = list(ask(SYSTEM, QUESTION))
    within_timeout(began)
    (failure,) = [e for e in events if isinstance(e, AskFailed)]
    assert failure.code == code and "answer service" in failure.message
    assert not [e for e in events if isinstance(e, AskText | AskResult)]
    assert failed_answers() == [("", code, False)]

    settings.LLM_FALLBACK = True  # the documents are quoted instead, with a notice
    began = time.monotonic()
    events = list(ask(SYSTEM, QUESTION))
    within_timeout(began)
    (notice,) = [e for e in events if isinstance(e, AskNotice)]
    (result,) = [e for e in events if isinstance(e, AskResult)]
    assert notice.code == "llm_fallback" and not [e for e in events
                                                  if isinstance(e, AskFailed)]
    assert result.backend == "extractive" and "90 days" in result.answer and result.grounded
    assert [c.n for c in result.citations] == [1]
    stored = Message.objects.get(pk=result.message_id)
    assert (stored.error_code, stored.notice) == ("", notice.text)


@pytest.mark.slow
def test_every_door_reports_each_fault_with_its_code(
        kb_a, owner, proxy, tmp_path):  # noqa: F811
    """The REST API (JSON and SSE) and the OpenAI-compatible endpoint (the official
    client, whole and streamed) of a live server whose LLM is behind the proxy."""
    for base in start_server(CITEWISE_ANSWER_BACKEND="vllm", VLLM_BASE_URL=proxy.base_url,
                             VLLM_MODEL="company-llm", VLLM_TIMEOUT=str(TIMEOUT_S),
                             CITEWISE_LLM_FALLBACK="false"):
        key = new_key(owner, [kb_a])
        # The server's first answer loads its models (untimed); no answer is stored.
        httpx.post(f"{base}/api/v1/search", json={"query": QUESTION},
                   headers={"Authorization": f"Bearer {key}"}, timeout=120)
        for fault, options, code in FAULTS:
            proxy.set(fault, **options)
            assert rest_json(base, key) == (503, code)
            assert rest_sse(base, key) == code
            assert openai_whole(base, key) == (503, code)
            assert openai_streamed(base, key) == code
    # One failed answer stored per question asked, none complete.
    assert sorted(row[1:] for row in failed_answers()) == sorted(
        (code, False) for _, _, code in FAULTS for _door in range(4))


def rest_json(base: str, key: str) -> tuple[int, str]:
    began = time.monotonic()
    response = httpx.post(f"{base}/api/v1/ask", json={"question": QUESTION},
                          headers={"Authorization": f"Bearer {key}"}, timeout=60)
    within_timeout(began)
    assert response.headers["content-type"] == "application/problem+json"
    return response.status_code, response.json()["code"]


def rest_sse(base: str, key: str) -> str:
    began = time.monotonic()
    with httpx.stream("POST", f"{base}/api/v1/ask", json={"question": QUESTION,
                                                          "stream": True},
                      headers={"Authorization": f"Bearer {key}"}, timeout=60) as response:
        body = response.read().decode()
    within_timeout(began)
    blocks = [block for block in body.split("\n\n") if block.startswith("event: ")]
    name, data = blocks[-1].split("\n", 1)
    assert name == "event: error", body
    return json.loads(data.removeprefix("data: "))["code"]


def _client(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=60)


def openai_whole(base: str, key: str) -> tuple[int, str]:
    began = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        _client(base, key).chat.completions.create(
            model="it-handbook", messages=[{"role": "user", "content": QUESTION}])
    within_timeout(began)
    return caught.value.status_code, caught.value.code


def openai_streamed(base: str, key: str) -> str:
    began = time.monotonic()
    stream = _client(base, key).chat.completions.create(
        model="it-handbook", messages=[{"role": "user", "content": QUESTION}], stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    within_timeout(began)
    return caught.value.code


def test_the_chat_page_shows_each_fault_in_the_readers_language(kb_a, llm_behind):  # noqa: F811
    reader = make_user("kim")
    kb_a.reader_users.add(reader)
    for fault, options, code in FAULTS:
        llm_behind.set(fault, **options)
        began = time.monotonic()
        _, events = chat_stream(reader, {"question": QUESTION},
                                headers={"Accept-Language": "ko"})
        within_timeout(began)
        (error,) = [data for name, data in events if name == "error"]
        assert error["code"] == code and error["text"] == KOREAN[code]
        name, done = events[-1]  # the stored failed answer, as a reload shows it
        assert (name, done["error_code"]) == ("done", code)
        assert KOREAN[code] in done["html"] and not [n for n, _ in events if n == "text"]
        # A reload shows the question and why its answer failed.
        page = signed_in(reader).get(dict(events)["start"]["url"],
                                     headers={"Accept-Language": "ko"}).content.decode()
        assert QUESTION in page and KOREAN[code] in page
    assert sorted(row[1] for row in failed_answers()) == sorted(c for _, _, c in FAULTS)


def test_a_follow_up_waits_for_a_silent_service_once(kb_a, llm_behind):  # noqa: F811
    """A follow-up asks the LLM twice (the rewrite, then the answer): when the rewrite
    already timed out, the answer fails with that error instead of waiting again."""
    llm_behind.set("delay", delay_s=SILENCE_S)
    history = [Turn("user", "Which VPN client do employees use?"),
               Turn("assistant", "The WireGuard VPN client [1].")]
    events = list(ask(SYSTEM, "And how often do passwords expire?", history=history))
    (failure,) = [e for e in events if isinstance(e, AskFailed)]
    assert failure.code == "llm_timeout"
    assert len(llm_behind.requests) == 1  # the rewrite's; the answer was not sent
