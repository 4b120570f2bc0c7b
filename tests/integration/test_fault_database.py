"""PostgreSQL goes away while Citewise runs: every door answers at once with a 503 that
says so (a page in the reader's language, problem details with a machine code), /readyz
names the database, and once it is back the same web and worker processes serve again.

The outage is a TCP proxy of the test's own between Citewise and the machine's
PostgreSQL (tests/faults.py): cut, it drops every connection and refuses new ones, as a
stopped server does. The machine's PostgreSQL itself is never stopped."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection
from django.test import Client

from citewise.knowledge.models import Document, DocumentStatus
from tests.factories import make_kb, make_user
from tests.faults import TcpProxy
from tests.integration.api_support import new_key
from tests.integration.live_server import start_server
from tests.integration.test_ingestion import wait_for
from tests.workers import database_url, start_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def proxy():
    if connection.vendor != "postgresql":
        pytest.skip("an outage of PostgreSQL needs PostgreSQL (set DATABASE_URL)")
    settings_dict = connection.settings_dict
    tcp = TcpProxy(settings_dict.get("HOST") or "127.0.0.1", int(settings_dict.get("PORT") or 5432))
    yield tcp
    tcp.close()


def through(proxy: TcpProxy) -> str:
    """The test database's URL, by way of the proxy."""
    parts = urlsplit(database_url(connection.settings_dict))
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def test_database_outage_is_a_clear_503_and_passes_without_restarts(proxy, django_db_blocker):
    kb = make_kb("handbook")
    user = make_user("reader")
    kb.editor_users.add(user)
    key = new_key(user, [kb], operations=("ask", "search", "documents"))
    browser = Client()
    browser.force_login(user)
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    api = {"Authorization": f"Bearer {key}"}

    server = start_server(DATABASE_URL=through(proxy))
    base = next(server)
    worker = start_worker("outage", DATABASE_URL=through(proxy))
    try:
        with httpx.Client(base_url=base, timeout=30, cookies=cookies) as http, \
                httpx.Client(base_url=base, timeout=30, headers=api) as bot:
            assert http.get("/chat/").status_code == 200
            proxy.cut()

            page = http.get("/chat/", headers={"Accept-Language": "ko"})
            assert page.status_code == 503
            assert "데이터베이스" in page.text and "database_unavailable" in page.text
            assert page.headers["Retry-After"]
            english = http.get("/console/", headers={"Accept-Language": "en"})
            assert english.status_code == 503 and "cannot reach its database" in english.text

            problem = bot.get("/api/v1/knowledge-bases")
            assert problem.status_code == 503
            assert problem.headers["Content-Type"].startswith("application/problem+json")
            assert problem.json()["code"] == "database_unavailable"
            openai = bot.post("/v1/chat/completions", json={"model": "handbook", "messages": [
                {"role": "user", "content": "How do I connect?"}]})
            assert openai.status_code == 503
            assert openai.json()["error"]["code"] == "database_unavailable"

            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"]["ok"] is False

            proxy.restore()
            assert http.get("/chat/").status_code == 200
            assert http.get("/readyz").json()["checks"]["database"]["ok"] is True
            upload = bot.post("/api/v1/documents", data={"knowledge_base": kb.slug},
                              files={"file": ("vpn.md", b"# VPN\n\nUse WireGuard to connect.")})
            assert upload.status_code == 201, upload.text
        # The worker lived through the outage and ingests again, unrestarted.
        document_id = upload.json()["id"]
        with django_db_blocker.unblock():
            wait_for(lambda: Document.objects.get(pk=document_id).status == DocumentStatus.INDEXED)
        assert worker.process.poll() is None
    finally:
        worker.stop()
        next(server, None)
