"""A knowledge base's webhook: documents ingested by a real worker are announced to a real
HTTP receiver, signed, retried with backoff when it fails, and logged; admins set it,
and no API key ever sees its secret."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest

from citewise.knowledge.models import (
    DeliveryState,
    Document,
    DocumentStatus,
    WebhookDelivery,
)
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.services import add_document
from citewise.knowledge.webhooks import verify
from tests.factories import make_kb, make_user
from tests.integration.api_support import ApiClient, new_key
from tests.workers import WorkerProcess, start_worker

pytestmark = pytest.mark.django_db(transaction=True)

VPN_GUIDE = """# Remote access

## Connecting to the VPN

Open the WireGuard client and import the profile the IT desk sent you.
"""
# The worker's webhook settings: quick retries, and few of them, so tests end soon.
RETRY_SECONDS = 0.5
MAX_ATTEMPTS = 3


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Stands in for the customer's endpoint: a real HTTP server on a thread of this
    process. It records every POST and answers with the statuses in `answers`, in
    order, then 204."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 120.0) -> list[Received]:
        wait_until(lambda: len(self.received) >= count, timeout,
                   f"{count} webhook requests, got {len(self.received)}")
        return self.received


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for {what}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state.received.append(Received(dict(self.headers), body, time.monotonic()))
                status = state.answers.pop(0) if state.answers else 204
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/citewise-hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, django_db_blocker) -> Iterator[WorkerProcess]:
    with django_db_blocker.unblock():
        worker = start_worker("webhooks", CITEWISE_WEBHOOK_RETRY_SECONDS=str(RETRY_SECONDS),
                              CITEWISE_WEBHOOK_MAX_ATTEMPTS=str(MAX_ATTEMPTS))
    yield worker
    worker.stop()


def upload(kb, name: str, content: bytes) -> Document:
    return add_document(SYSTEM, kb, BytesIO(content), original_name=name).document


def settled(delivery_pk: int, timeout: float = 30.0) -> WebhookDelivery:
    """The delivery once the worker has stopped trying (delivered or given up)."""
    wait_until(lambda: WebhookDelivery.objects.filter(pk=delivery_pk).exclude(
        state=DeliveryState.PENDING).exists(), timeout, f"delivery {delivery_pk} to settle")
    return WebhookDelivery.objects.get(pk=delivery_pk)


def assert_signed(request: Received, secret: str) -> None:
    assert verify(secret, request.headers["Citewise-Timestamp"], request.body,
                  request.headers["Citewise-Signature"])
    assert request.headers["Content-Type"] == "application/json"


def test_an_indexed_document_is_announced_once_signed(webhook_worker, receiver):
    kb = make_kb("it-handbook", webhook_url=receiver.url)
    assert len(kb.webhook_secret) == 64  # generated when the URL was set
    document = upload(kb, "vpn.md", VPN_GUIDE.encode())

    [request] = receiver.wait_for(1)
    assert_signed(request, kb.webhook_secret)
    assert not verify("another secret", request.headers["Citewise-Timestamp"], request.body,
                      request.headers["Citewise-Signature"])
    assert request.headers["Citewise-Event"] == "document.indexed"
    event = request.json()
    document.refresh_from_db()
    assert document.status == DocumentStatus.INDEXED
    assert event["event"] == "document.indexed" and event["knowledge_base"] == "it-handbook"
    assert event["document"] == {"id": document.pk, "name": "vpn.md", "title": document.title,
                                 "status": "indexed", "error": None,
                                 "chunks": document.chunks.count()}
    assert event["document"]["chunks"] >= 1 and event["occurred_at"]

    delivery = settled(int(request.headers["Citewise-Delivery"]))
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (
        DeliveryState.DELIVERED, 1, 204)
    assert delivery.document == document and delivery.delivered_at is not None
    time.sleep(1.0)
    assert len(receiver.received) == 1  # one document, one POST


def test_a_failed_document_is_announced_with_its_reason(webhook_worker, receiver):
    kb = make_kb("scans", webhook_url=receiver.url)
    document = upload(kb, "broken.pdf", b"%PDF-1.7\n this is not really a pdf")

    [request] = receiver.wait_for(1)
    assert_signed(request, kb.webhook_secret)
    assert request.headers["Citewise-Event"] == "document.failed"
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED and document.error_code
    assert request.json()["document"] == {
        "id": document.pk, "name": "broken.pdf", "title": document.title, "status": "failed",
        "error": {"code": document.error_code, "message": document.error}, "chunks": 0}


def test_an_upload_refused_as_too_large_is_announced_as_failed(webhook_worker, receiver,
                                                               settings):
    settings.MAX_UPLOAD_BYTES = 10  # checked here, in the uploading process
    kb = make_kb("big-files", webhook_url=receiver.url)
    document = upload(kb, "vpn.md", VPN_GUIDE.encode())

    [request] = receiver.wait_for(1)
    assert_signed(request, kb.webhook_secret)
    assert request.json()["document"]["error"]["code"] == "too_large"
    assert request.json()["document"]["id"] == document.pk


def test_a_failing_receiver_gets_it_on_the_third_attempt_after_backoff(webhook_worker,
                                                                       receiver):
    receiver.answers = [500, 500]
    kb = make_kb("it-handbook", webhook_url=receiver.url)
    document = upload(kb, "vpn.md", VPN_GUIDE.encode())

    first, second, third = receiver.wait_for(3)
    for request in (first, second, third):  # each attempt signed afresh
        assert_signed(request, kb.webhook_secret)
        assert request.json() == first.json()
    # The wait doubles: 0.5 s, then 1 s.
    assert second.at - first.at >= RETRY_SECONDS
    assert third.at - second.at >= 2 * RETRY_SECONDS
    delivery = settled(int(third.headers["Citewise-Delivery"]))
    assert (delivery.state, delivery.attempts, delivery.last_status_code,
            delivery.last_error) == (DeliveryState.DELIVERED, 3, 204, "")
    log = webhook_worker.log()
    assert f"webhook delivery {delivery.pk} (document.indexed, it-handbook) attempt 1 " \
           "failed: HTTP 500" in log
    assert f"webhook delivery {delivery.pk} (document.indexed, it-handbook) delivered on " \
           "attempt 3" in log
    document.refresh_from_db()
    assert document.status == DocumentStatus.INDEXED


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(webhook_worker):
    kb = make_kb("it-handbook", webhook_url=f"http://127.0.0.1:{closed_port()}/hook")
    document = upload(kb, "vpn.md", VPN_GUIDE.encode())

    wait_until(lambda: WebhookDelivery.objects.exists(), 120, "the delivery to be recorded")
    delivery = settled(WebhookDelivery.objects.get().pk)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == MAX_ATTEMPTS
    assert delivery.last_status_code is None and "ConnectError" in delivery.last_error
    assert f"webhook delivery {delivery.pk} (document.indexed, it-handbook) gave up after " \
           f"attempt {MAX_ATTEMPTS}" in webhook_worker.log()
    document.refresh_from_db()
    assert document.status == DocumentStatus.INDEXED  # the webhook never changes it


def admin_form(kb, webhook_url: str) -> dict:
    """The knowledge base's admin change form as an admin submits it."""
    return {"name": kb.name, "slug": kb.slug, "description": "", "answer_backend": "",
            "instructions": "", "webhook_url": webhook_url,
            "answer_examples-TOTAL_FORMS": "0", "answer_examples-INITIAL_FORMS": "0"}


def test_admins_set_the_webhook_see_the_secret_and_rotate_it(client):
    kb = make_kb("it-handbook")
    client.force_login(make_user("root", superuser=True))
    page = f"/admin/knowledge/knowledgebase/{kb.pk}/change/"

    for refused in ("ftp://files.example.com/hook", "file:///etc/passwd"):
        response = client.post(page, admin_form(kb, refused))
        assert response.status_code == 200
        assert "Enter an http:// or https:// URL" in response.content.decode()
    kb.refresh_from_db()
    assert kb.webhook_url == "" and kb.webhook_secret == ""

    response = client.post(page, admin_form(kb, "http://helpdesk-bot:8080/hook"))
    assert response.status_code == 302, response.content.decode()[:3000]
    kb.refresh_from_db()
    assert kb.webhook_url == "http://helpdesk-bot:8080/hook" and kb.webhook_secret
    assert kb.webhook_secret in client.get(page).content.decode()

    old_secret = kb.webhook_secret
    client.post("/admin/knowledge/knowledgebase/", {
        "action": "rotate_webhook_secret", "_selected_action": [str(kb.pk)]})
    kb.refresh_from_db()
    assert kb.webhook_secret and kb.webhook_secret != old_secret

    client.post(page, admin_form(kb, ""))  # no URL, no webhook, no secret
    kb.refresh_from_db()
    assert kb.webhook_secret == ""


def test_the_delivery_log_is_readable_not_editable_in_the_admin(client):
    kb = make_kb("it-handbook", webhook_url="https://helpdesk.example.com/hook")
    delivery = WebhookDelivery.objects.create(
        knowledge_base=kb, event="document.failed", url=kb.webhook_url, attempts=6,
        state=DeliveryState.FAILED, last_status_code=502, last_error="HTTP 502: Bad Gateway",
        payload={"document": {"name": "scan.pdf"}})
    client.force_login(make_user("root", superuser=True))
    listing = client.get("/admin/knowledge/webhookdelivery/").content.decode()
    assert "scan.pdf" in listing and "HTTP 502: Bad Gateway" in listing
    page = f"/admin/knowledge/webhookdelivery/{delivery.pk}/change/"
    assert "https://helpdesk.example.com/hook" in client.get(page).content.decode()
    assert client.post(page, {"last_error": ""}).status_code == 403
    assert client.get("/admin/knowledge/webhookdelivery/add/").status_code == 403
    assert client.post(f"/admin/knowledge/webhookdelivery/{delivery.pk}/delete/",
                       {"post": "yes"}).status_code == 403
    assert WebhookDelivery.objects.get().last_error == "HTTP 502: Bad Gateway"


def test_no_api_response_shows_the_webhook_secret():
    kb = make_kb("it-handbook", webhook_url="https://helpdesk.example.com/hook")
    owner = make_user("helpdesk-owner")
    kb.reader_users.add(owner)
    api = ApiClient(new_key(owner, [kb]))
    for path in ("/api/v1/knowledge-bases", "/api/v1/knowledge-bases/it-handbook"):
        response = api.get(path)
        assert response.status_code == 200
        assert "it-handbook" in response.content.decode()
        assert kb.webhook_secret not in response.content.decode()
        assert "webhook" not in response.content.decode()
