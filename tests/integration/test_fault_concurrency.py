"""Two web processes and two workers on one PostgreSQL database and one Redis: the same
file sent at the same moment through two doors (the console and the REST API, or two
console uploads) becomes one document; two versions sent at once leave one live version;
every document is ingested once, by one of the two workers.

Two web processes, because one uvicorn process runs Django's sync views one at a time:
only two processes race for real, as they do behind a load balancer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import httpx
import pytest
from django.db import connection
from django.test import Client

from citewise.knowledge.models import Document, DocumentStatus, IngestionAttempt
from tests.factories import make_kb, make_user
from tests.integration.api_support import new_key
from tests.integration.live_server import start_server
from tests.integration.test_ingestion import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

ROUNDS = 6


@pytest.fixture
def two_servers():
    if connection.vendor != "postgresql":
        pytest.skip("the race is PostgreSQL's (set DATABASE_URL); SQLite has one writer")
    first, second = start_server(), start_server()
    yield next(first), next(second)
    for server in (first, second):
        next(server, None)


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls in threads released together; their responses, in order."""
    gate = threading.Barrier(len(calls))
    responses: list[httpx.Response | None] = [None] * len(calls)

    def run(n: int) -> None:
        gate.wait()
        responses[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses  # type: ignore[return-value]


class Console:
    """A signed-in editor's browser on one web process."""

    def __init__(self, base: str, user) -> None:
        browser = Client()
        browser.force_login(user)
        self.http = httpx.Client(base_url=base, timeout=60,
                                 cookies={"sessionid": browser.cookies["sessionid"].value})
        self.http.get("/console/")  # sets the CSRF cookie
        self.token = self.http.cookies["csrftoken"]

    def upload(self, slug: str, name: str, content: bytes) -> httpx.Response:
        return self.http.post(f"/console/knowledge-bases/{slug}/documents/upload",
                              headers={"X-CSRFToken": self.token},
                              files={"file": (name, content)})


def api_upload(base: str, key: str, slug: str, name: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/documents", headers={"Authorization": f"Bearer {key}"},
                      data={"knowledge_base": slug}, files={"file": (name, content)},
                      timeout=60)


def manual(n: int) -> bytes:
    return "\n\n".join(f"## Rule {n}.{k}\n\nEvery door of building {n} closes at {k} pm."
                       for k in range(8)).encode()


def test_same_file_through_two_doors_at_once_is_one_document(two_servers, own_worker):
    base_a, base_b = two_servers
    kb = make_kb("rules")
    editor = make_user("editor")
    kb.editor_users.add(editor)
    key = new_key(editor, [kb], operations=("ask", "search", "documents"))
    console_a, console_b = Console(base_a, editor), Console(base_b, editor)
    own_worker("one")  # both before the uploads: starting a worker purges the queues
    own_worker("two")

    for n in range(ROUNDS):
        content = manual(n)
        name = f"rules-{n}.md"
        second = (partial(console_b.upload, kb.slug, name, content) if n % 2 else
                  partial(api_upload, base_b, key, kb.slug, name, content))
        responses = at_once(partial(console_a.upload, kb.slug, name, content), second)
        assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    # Each content once, however the race went.
    assert kb.documents.count() == ROUNDS
    assert sorted(kb.documents.values_list("original_name", flat=True)) == sorted(
        f"rules-{n}.md" for n in range(ROUNDS))

    # Two versions of one name at once: one live version when all is done.
    at_once(lambda: console_a.upload(kb.slug, "policy.md", b"# Policy\n\nVisitors sign in."),
            lambda: api_upload(base_b, key, kb.slug, "policy.md",
                               b"# Policy\n\nVisitors sign in and wear a badge."))

    wait_for(lambda: not kb.documents.exclude(status=DocumentStatus.INDEXED).exists())
    documents = list(kb.documents.all())
    assert [d.version for d in documents if d.original_name == "policy.md"] == [2]
    assert len(documents) == ROUNDS + 1
    for document in documents:  # ingested once, by one worker
        assert IngestionAttempt.objects.filter(document=document).count() == 1
        ordinals = list(document.chunks.values_list("ordinal", flat=True))
        assert len(ordinals) == len(set(ordinals)) > 0
    assert Document.objects.filter(status=DocumentStatus.INDEXED).count() == ROUNDS + 1
