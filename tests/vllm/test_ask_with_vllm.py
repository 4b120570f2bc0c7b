"""The ask service and readiness against the real vLLM server (tiny random model: the
text is gibberish, the protocol, streaming, usage and storage are real)."""

from __future__ import annotations

import time
from io import BytesIO

import pytest

from citewise.chat import backends
from citewise.chat.models import Message
from citewise.chat.services import AskResult, AskText, ask
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document
from tests.factories import make_kb

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def llm(settings, vllm_server):
    settings.ANSWER_BACKEND = "vllm"
    settings.VLLM_BASE_URL = vllm_server.base_url
    settings.VLLM_MODEL = vllm_server.model
    settings.VLLM_CONTEXT_LENGTH = 512
    settings.VLLM_MAX_TOKENS = 24
    settings.VLLM_TIMEOUT = 60.0
    backends.vllm_backend.cache_clear()
    yield vllm_server
    backends.vllm_backend.cache_clear()


def test_an_answer_streams_from_vllm_and_its_usage_is_stored(llm):
    kb = make_kb("it")
    document = add_document(SYSTEM, kb, BytesIO(
        b"# Passwords\n\nPasswords expire every 90 days. Reset yours in the portal."),
        original_name="passwords.md", enqueue=False).document
    ingest(document.pk)
    began = time.monotonic()
    first_text_after = None
    events = []
    for event in ask(SYSTEM, "How often do passwords expire?"):
        if isinstance(event, AskText) and first_text_after is None:
            first_text_after = time.monotonic() - began
        events.append(event)
    (result,) = [e for e in events if isinstance(e, AskResult)]
    assert result.backend == "vllm"
    assert first_text_after is not None
    assert "".join(e.text for e in events if isinstance(e, AskText)) == result.answer
    # vLLM's own counts: the prompt held the rules and the numbered source.
    assert result.usage.prompt_tokens > 50
    assert 0 < result.usage.completion_tokens <= 24
    stored = Message.objects.get(pk=result.message_id)
    assert (stored.prompt_tokens, stored.completion_tokens) == (
        result.usage.prompt_tokens, result.usage.completion_tokens)


def test_readiness_checks_the_real_llm(llm, client, settings):
    checks = client.get("/readyz", REMOTE_ADDR="127.0.0.1").json()["checks"]
    assert checks["llm"] == {"ok": True, "detail": llm.model, "ms": checks["llm"]["ms"]}
    settings.VLLM_MODEL = "not-served"
    checks = client.get("/readyz", REMOTE_ADDR="127.0.0.1").json()["checks"]
    assert checks["llm"]["ok"] is False
    assert "does not serve the model 'not-served'" in checks["llm"]["detail"]


def test_the_knowledge_bases_answer_examples_reach_the_llm(llm):
    """An admin's few-shot example is sent with the question: vLLM counts its tokens."""
    from citewise.knowledge.models import AnswerExample

    kb = make_kb("it", instructions="Answer in one short sentence.")
    document = add_document(SYSTEM, kb, BytesIO(
        b"# VPN\n\nEmployees connect with the WireGuard client from the IT portal."),
        original_name="vpn.md", enqueue=False).document
    ingest(document.pk)

    def prompt_tokens() -> int:
        events = list(ask(SYSTEM, "Which VPN client do employees use?"))
        (result,) = [e for e in events if isinstance(e, AskResult)]
        assert result.backend == "vllm"
        return result.usage.prompt_tokens

    without = prompt_tokens()
    AnswerExample.objects.create(knowledge_base=kb, question="Where is the printer?",
                                 source="The printer is on floor 3.",
                                 answer="On floor 3 [1].")
    assert prompt_tokens() > without + 15
