"""One log line per request with its id; nothing secret or private in the logs of any
process (web server, worker, the command line), even at DEBUG with Django's debug mode."""

from __future__ import annotations

import json
import logging
import re
import time

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from citewise.accounts import keys
from citewise.knowledge.models import DocumentStatus
from citewise.ops.logs import JsonFormatter, RequestIdFilter
from tests.factories import make_kb, make_user
from tests.integration.live_server import server_log, start_server

pytestmark = pytest.mark.django_db


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "citewise.request"]


def test_each_request_logs_one_line_with_its_id(client, caplog):
    caplog.set_level(logging.INFO, logger="citewise.request")
    response = client.get("/", HTTP_X_REQUEST_ID="lb-1234")
    assert response["X-Request-ID"] == "lb-1234"
    (record,) = request_records(caplog)
    assert (record.method, record.path, record.status) == ("GET", "/", 200)
    assert record.getMessage().startswith("GET / 200 ")


def test_an_unsafe_incoming_request_id_is_replaced(client):
    response = client.get("/", HTTP_X_REQUEST_ID="evil\nFAKE LOG LINE")
    assert "\n" not in response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


def test_query_strings_and_form_fields_never_reach_the_log(client, caplog):
    caplog.set_level(logging.DEBUG)
    client.get("/?q=salary+of+Kim&api_key=sk-live-123")
    client.post("/admin/login/", {"username": "kim", "password": "hunter2-secret"})
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    for secret in ("salary", "sk-live-123", "hunter2-secret"):
        assert secret not in logged


def test_json_lines_for_production():
    record = logging.LogRecord("citewise.request", logging.INFO, __file__, 1,
                               "GET %s 200", ("/healthz",), None)
    record.status = 200
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /healthz 200"
    assert line["status"] == 200
    assert line["request_id"] == "-"
    assert line["level"] == "INFO"


# --- Nothing private in any process's log, at DEBUG --------------------------------------
# What Citewise logs about a request: method, path (never the query string), status, time
# and the user's id; about a document: its id and, when it fails, the reason. Never the
# text of a document, a question or an answer, a password, an API key or a session id.
SECRET_SENTENCE = "The vault under Pier Nightjar opens with combination 7-3-9-Kestrel-41."
SECRET_CODE = "7-3-9-Kestrel-41"
QUESTION = "Which combination opens the vault under Pier Nightjar?"
PASSWORD = "Corr3ct-Horse-Battery-Pelican"
WRONG_PASSWORD = "Wr0ng-Guess-Albatross"


def sign_in_over_http(client: httpx.Client, username: str, password: str) -> httpx.Response:
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client.post("/accounts/login/", data={
        "username": username, "password": password, "csrfmiddlewaretoken": token})


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_no_process_logs_documents_questions_passwords_keys_or_sessions(own_worker, caplog):
    caplog.set_level(logging.DEBUG)
    debug = {"CITEWISE_LOG_LEVEL": "DEBUG", "CITEWISE_DEBUG": "true"}
    worker = own_worker("logs", loglevel="DEBUG", **debug)
    servers = start_server(**debug)
    base = next(servers)
    try:
        owner = make_user("vault-keeper", superuser=True)
        # The server runs the product's settings, whose hashers omit the tests' MD5.
        owner.password = PBKDF2PasswordHasher().encode(PASSWORD, "logs")
        owner.save()
        kb = make_kb("piers")
        kb.reader_users.add(owner)
        key = keys.create_key(owner=owner, name="bot", knowledge_bases=[kb],
                              operations=["ask", "search", "documents"])[1]
        private = exercise_every_door(base, kb, key)
    finally:
        servers.close()
        worker.stop()
    logs = {"web": server_log(base).read_text(errors="replace"), "worker": worker.log(),
            "tests": "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str)
                               for r in caplog.records)}
    # The logs are there, at DEBUG: a test of empty files would prove nothing.
    assert "POST /api/v1/ask 200" in logs["web"] and "DEBUG" in logs["web"]
    assert "ingest_document" in logs["worker"] and "DEBUG" in logs["worker"]
    for secret in (SECRET_SENTENCE, SECRET_CODE, QUESTION, PASSWORD, WRONG_PASSWORD, key,
                   key.split(".")[-1], *private):
        for process, text in logs.items():
            where = [line for line in text.splitlines() if secret in line][:3]
            assert secret not in text, f"{secret!r} in the {process} log: {where}"


def exercise_every_door(base: str, kb, key: str) -> list[str]:
    """Upload through the API, wait for the worker, then ask and search through the API
    (whole and streamed) and the chat page, open the cited source, and fail a sign-in.
    Returns the session id and CSRF token the browser held."""
    bot = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    uploaded = bot.post("/api/v1/documents", data={"knowledge_base": kb.slug}, files={
        "file": ("piers.md", f"# Piers\n\n{SECRET_SENTENCE}\n".encode())})
    assert uploaded.status_code in (201, 202), uploaded.text
    wait_indexed(kb)
    asked = bot.post("/api/v1/ask", json={"question": QUESTION})
    assert SECRET_CODE in asked.json()["answer"], asked.text
    with bot.stream("POST", "/api/v1/ask", json={"question": QUESTION, "stream": True}) as s:
        assert SECRET_CODE in "".join(s.iter_text())
    assert bot.post("/api/v1/search", json={"query": QUESTION}).status_code == 200

    browser = httpx.Client(base_url=base, timeout=120)
    assert sign_in_over_http(browser, "vault-keeper", WRONG_PASSWORD).status_code == 200
    assert sign_in_over_http(browser, "vault-keeper", PASSWORD).status_code == 302
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                      browser.get("/chat/").text).group(1)
    answer = browser.post("/chat/messages/", data={"question": QUESTION,
                                                  "knowledge_base": str(kb.pk)},
                          headers={"X-CSRFToken": token, "Accept": "text/event-stream"})
    assert SECRET_CODE in answer.text
    chunk = kb.documents.get().chunks.first()
    source = browser.get(f"/sources/{chunk.pk}/", params={"quote": SECRET_SENTENCE})
    assert source.status_code == 200
    return [browser.cookies["sessionid"], browser.cookies["csrftoken"], token]


def wait_indexed(kb, within: float = 300) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        statuses = set(kb.documents.values_list("status", flat=True))
        if statuses == {DocumentStatus.INDEXED}:
            return
        assert DocumentStatus.FAILED not in statuses, list(kb.documents.values("error"))
        time.sleep(0.5)
    raise AssertionError("the document was not indexed in time")
