"""/v1/chat/completions on a Citewise server answering with the real vLLM server (tiny
random model: the text is gibberish; what vLLM did with the request is real): the
client's max_tokens and temperature reach vLLM."""

from __future__ import annotations

import openai
import pytest

from tests.integration.api_support import kb_a, kb_b, new_key, owner  # noqa: F401
from tests.integration.live_server import start_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def citewise_on_vllm(vllm_server):
    yield from start_server(CITEWISE_ANSWER_BACKEND="vllm", VLLM_BASE_URL=vllm_server.base_url,
                            VLLM_MODEL=vllm_server.model, VLLM_CONTEXT_LENGTH="512",
                            VLLM_MAX_TOKENS="24", VLLM_TIMEOUT="60")


def test_max_tokens_and_temperature_reach_vllm(citewise_on_vllm, owner, kb_a):  # noqa: F811
    client = openai.OpenAI(base_url=f"{citewise_on_vllm}/v1", max_retries=0, timeout=120,
                           api_key=new_key(owner, [kb_a]))

    def answer(**sampling):
        return client.chat.completions.create(model="it-handbook", messages=[
            {"role": "user", "content": "How often do passwords expire?"}], **sampling)

    short = answer(max_tokens=3)
    assert (short.usage.completion_tokens, short.choices[0].finish_reason) == (3, "length")
    assert answer().usage.completion_tokens > 3  # the server's own limit is 24

    def text(**sampling) -> str:
        return answer(max_tokens=12, **sampling).choices[0].message.content

    # The server samples at temperature 0 (the same answer every time); at 2 a random
    # model's near-uniform choice over its vocabulary differs from one answer to the next.
    assert text() == text()
    assert len({text(temperature=2.0) for _ in range(3)}) > 1
