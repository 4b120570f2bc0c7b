"""One log line per request with its id; nothing secret or private in the logs."""

from __future__ import annotations

import json
import logging

import pytest

from citewise.ops.logs import JsonFormatter, RequestIdFilter

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
