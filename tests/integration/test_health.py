"""/healthz, /readyz and /metrics as a load balancer, a probe and Prometheus see them."""

from __future__ import annotations

import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from citewise.chat.events import AskResult
from citewise.chat.services import ask
from citewise.knowledge.permissions import SYSTEM
from tests.factories import load_document, make_kb

pytestmark = pytest.mark.django_db(transaction=True)

OPERATOR = {"REMOTE_ADDR": "127.0.0.1"}
OUTSIDER = {"REMOTE_ADDR": "10.20.30.40"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


# These tests start their own workers (no module-wide one), so that killing one leaves
# none answering.


def test_readyz_is_200_when_every_part_works(client, own_worker):
    worker = own_worker("ready")
    response = client.get("/readyz", **OPERATOR)
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert set(checks) == {"database", "broker", "worker", "data_dir", "originals", "vector_store",
                           "llm"}
    assert all(check["ok"] for check in checks.values())
    assert worker.hostname in checks["worker"]["detail"]
    assert checks["worker"]["ms"] < 2000


def test_readyz_is_503_and_names_an_unreachable_llm(client, settings):
    settings.VLLM_BASE_URL = f"http://127.0.0.1:{closed_port()}/v1"
    settings.VLLM_MODEL = ""
    unnamed = client.get("/readyz", **OPERATOR).json()["checks"]["llm"]["detail"]
    assert "VLLM_MODEL" in unnamed
    settings.VLLM_MODEL = "qwen"
    response = client.get("/readyz", **OPERATOR)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["llm"]["ok"] is False
    assert "cannot be reached" in body["checks"]["llm"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_is_503_when_the_data_dir_is_not_a_writable_folder(client, settings, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    settings.DATA_DIR = not_a_folder
    response = client.get("/readyz", **OPERATOR)
    assert response.status_code == 503
    assert response.json()["checks"]["data_dir"]["ok"] is False


def test_readyz_hides_details_from_other_addresses(client, settings):
    settings.VLLM_BASE_URL = f"http://127.0.0.1:{closed_port()}/v1"
    response = client.get("/readyz", **OUTSIDER)
    assert response.status_code == 503
    assert response.json()["checks"]["llm"] == {"ok": False}
    assert "127.0.0.1" not in response.content.decode()


def test_readyz_is_503_when_no_worker_answers(client, own_worker):
    worker = own_worker("killed")
    assert client.get("/readyz", **OPERATOR).json()["checks"]["worker"]["ok"] is True
    worker.kill()
    response = client.get("/readyz", **OPERATOR)
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {
        "ok": False, "detail": "no Celery worker answered a ping within 2 s",
        "ms": response.json()["checks"]["worker"]["ms"],
    }


def test_metrics_only_for_configured_addresses(client):
    assert client.get("/metrics", **OUTSIDER).status_code == 403
    client.get("/healthz")
    response = client.get("/metrics", **OPERATOR)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'citewise_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "citewise_http_request_duration_seconds_bucket" in text


def test_metrics_allow_a_configured_network(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16"]
    assert client.get("/metrics", **OUTSIDER).status_code == 200
    assert client.get("/metrics", **OPERATOR).status_code == 403


STAGES_OF_A_QUOTED_ANSWER = ("permissions", "query_embedding", "vector_search",
                             "lexical_search", "fusion", "chunk_fetch", "term_coverage",
                             "answerability", "verification", "storage")


def answer_stage_counts(client) -> dict[str, float]:
    """citewise_answer_stage_seconds_count by stage, as Prometheus would read /metrics."""
    text = client.get("/metrics", **OPERATOR).content.decode()
    (family,) = [f for f in text_string_to_metric_families(text)
                 if f.name == "citewise_answer_stage_seconds"]
    return {sample.labels["stage"]: sample.value for sample in family.samples
            if sample.name.endswith("_count")}


def test_metrics_time_each_stage_of_an_answer(client):
    kb = make_kb("it-handbook")
    load_document(kb, "handbook.md", "# Passwords\n\nPasswords expire every 90 days. Reset "
                                     "your password in the self-service portal.\n")
    before = answer_stage_counts(client)
    events = list(ask(SYSTEM, "How often do passwords expire?", knowledge_bases=[kb]))
    assert isinstance(events[-1], AskResult) and not events[-1].not_found
    after = answer_stage_counts(client)
    grown = {stage for stage in STAGES_OF_A_QUOTED_ANSWER
             if after.get(stage, 0) > before.get(stage, 0)}
    assert grown == set(STAGES_OF_A_QUOTED_ANSWER)


@pytest.fixture
def vector_store_at(settings):
    """Points the deployment's vector store at a URI for one test."""
    from citewise.knowledge import indexing
    from retrieval.stores import parse_vector_store

    def point(value: str) -> None:
        settings.VECTOR_STORE = parse_vector_store(value)
        indexing.vector_store.cache_clear()

    yield point
    indexing.vector_store.cache_clear()


def test_readyz_checks_the_milvus_server_and_names_it_when_it_is_down(
        client, own_worker, milvus_uri, vector_store_at):
    own_worker("ready-milvus")
    vector_store_at(f"milvus:{milvus_uri}")
    response = client.get("/readyz", **OPERATOR)
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["vector_store"]["detail"].startswith("milvus")

    down = f"http://127.0.0.1:{closed_port()}"
    vector_store_at(f"milvus:{down}")
    response = client.get("/readyz", **OPERATOR)
    assert response.status_code == 503
    check = response.json()["checks"]["vector_store"]
    assert check["ok"] is False
    assert down in check["detail"] and check["ms"] < 5000
