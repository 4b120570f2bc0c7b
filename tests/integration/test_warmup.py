"""A web process loads, when its server starts, the models its first question would wait
for (citewise.knowledge.warmup): each knowledge base's embedding model with the answer
step's sentence scorer, and Korean morphology where a knowledge base reads Korean."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import async_to_sync

from citewise.chat.backends import _extractive
from citewise.knowledge import warmup
from citewise.knowledge.indexing import embedder_config
from tests.factories import load_document, make_kb
from textproc import tokens

pytestmark = pytest.mark.django_db(transaction=True)

ENGLISH = "# Leave\n\nEmployees take up to 25 days of paid leave a year.\n"
KOREAN = "# 휴가\n\n직원은 1년에 최대 25일의 유급 휴가를 사용할 수 있습니다.\n"


@pytest.fixture
def cold():
    """As in a new process: no sentence scorer built, no Korean analyser loaded."""
    _extractive.cache_clear()
    tokens._kiwi.cache_clear()
    yield
    _extractive.cache_clear()


def test_the_models_of_knowledge_bases_with_passages_are_loaded(cold):
    english = make_kb("leave")
    load_document(english, "leave.md", ENGLISH)
    make_kb("empty")  # no passages: nothing to load for it
    _extractive.cache_clear()

    warmup.warm_up()

    assert _extractive.cache_info().currsize == 1
    # An English base needs no Korean analyser; a Korean question to it still loads it.
    assert tokens._kiwi.cache_info().currsize == 0
    # The scorer warm-up built is the one the first question uses.
    hits = _extractive.cache_info().hits
    _extractive(embedder_config(english))
    assert _extractive.cache_info().hits == hits + 1


def test_a_korean_knowledge_base_also_gets_its_morphological_analyser(cold, settings):
    korean = make_kb("hyuga", language="ko", embedding_model=settings.EMBEDDING_MODEL_KOREAN)
    load_document(korean, "hyuga.md", KOREAN)
    _extractive.cache_clear()
    tokens._kiwi.cache_clear()

    warmup.warm_up()

    assert _extractive.cache_info().currsize == 1
    assert tokens._kiwi.cache_info().currsize == 1


def test_the_server_start_begins_the_warm_up_once_and_a_setting_turns_it_off(
        monkeypatch, settings):
    from citewise import asgi

    # The thread's work is what the two tests above run for real; here it only records
    # that the server's start ran it, in the warm-up thread.
    ran = []
    done = threading.Event()

    def recorded() -> float:
        ran.append(threading.current_thread().name)
        done.set()
        return 0.0

    async def mcp_lifespan(scope, receive, send):
        pass  # the MCP SDK's session manager runs once per process: not started here

    monkeypatch.setattr(warmup, "warm_up", recorded)
    monkeypatch.setattr(warmup, "_started", threading.Event())
    monkeypatch.setattr(asgi, "mcp", mcp_lifespan)
    async_to_sync(asgi.application)({"type": "lifespan"}, None, None)
    assert done.wait(10)
    assert ran == ["citewise-warm-up"]
    assert warmup.warm_up_in_background() is None  # once per process

    settings.WARM_UP = False
    monkeypatch.setattr(warmup, "_started", threading.Event())
    assert warmup.warm_up_in_background() is None
    assert ran == ["citewise-warm-up"]
