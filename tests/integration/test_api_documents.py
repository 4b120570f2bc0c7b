"""/api/v1/documents: upload (duplicates, versions, Idempotency-Key, refused files), status
while ingesting, filters and pages, delete; scopes and isolation between knowledge
bases. Ingestion runs in this process (pipeline.ingest, what the worker calls)."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from citewise.knowledge.models import Document
from citewise.knowledge.pipeline import ingest
from tests.integration.api_support import ApiClient, assert_problem, new_key

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = "/api/v1/documents"
VPN_FAQ = b"# VPN FAQ\n\nThe WireGuard VPN needs a new profile every 180 days.\n"
DOCUMENTS = ("documents",)
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of legacy and encrypted Office files


@pytest.fixture
def editor(owner, kb_a, kb_b):
    """The owner edits both knowledge bases: what a key may change is narrower."""
    kb_a.editor_users.add(owner)
    kb_b.editor_users.add(owner)
    return owner


def body(response) -> dict:
    return json.loads(response.content)


def listed(client: ApiClient, query: str = "") -> dict:
    response = client.get(f"{DOCS}{query}")
    assert response.status_code == 200, response.content
    return body(response)


def test_an_upload_shows_its_progress_and_is_searchable_once_indexed(editor, kb_a):
    client = ApiClient(new_key(editor, [kb_a], operations=("search", *DOCUMENTS)))
    response = client.upload("vpn-faq.md", VPN_FAQ, "it-handbook", title="VPN FAQ")
    created = body(response)
    assert response.status_code == 201 and not created["duplicate"]
    assert response["Location"] == f"http://testserver{DOCS}/{created['id']}"
    assert (created["title"], created["knowledge_base"]) == ("VPN FAQ", "it-handbook")
    waiting = next(d for d in listed(client)["results"] if d["id"] == created["id"])
    assert (waiting["status"], waiting["stage"], waiting["progress"]) == ("queued", "queued", 0)
    assert waiting["error"] is None

    ingest(created["id"])
    done = body(client.get(f"{DOCS}/{created['id']}"))
    assert (done["status"], done["stage"], done["progress"]) == ("indexed", "indexed", 1)
    assert done["indexed_at"] and done["detected_type"] == "markdown"
    passages = body(client.post("/api/v1/search", {"query": "WireGuard profile 180 days"}))
    assert passages["passages"][0]["document"] == "vpn-faq.md"


def test_a_failed_ingestion_lists_its_reason_code(editor, kb_a):
    client = ApiClient(new_key(editor, [kb_a], operations=DOCUMENTS))
    document_id = body(client.upload("blank.md", b"   \n\n  \n", "it-handbook"))["id"]
    ingest(document_id)
    failed = listed(client, "?status=failed")["results"]
    assert [d["id"] for d in failed] == [document_id]
    assert failed[0]["error"]["code"] == "empty" and failed[0]["error"]["message"]


def test_the_list_filters_by_status_and_knowledge_base_and_paginates(editor, kb_a, kb_b):
    client = ApiClient(new_key(editor, [kb_a, kb_b], operations=DOCUMENTS))
    for n in range(3):
        client.upload(f"note-{n}.txt", f"Note {n} about printers.".encode(), "it-handbook")
    everything = listed(client)
    assert everything["count"] == 5  # handbook.md and minutes.md (indexed) and three notes
    queued = listed(client, "?status=queued&knowledge_base=it-handbook")
    assert sorted(d["name"] for d in queued["results"]) == [
        "note-0.txt", "note-1.txt", "note-2.txt"]
    board = listed(client, "?knowledge_base=board")["results"]
    assert [(d["name"], d["status"]) for d in board] == [("minutes.md", "indexed")]
    page = listed(client, "?limit=2&offset=2")
    assert page["count"] == 5 and len(page["results"]) == 2 and page["previous"]
    assert [d["id"] for d in page["results"]] == [d["id"] for d in everything["results"][2:4]]
    problem = assert_problem(client.get(f"{DOCS}?status=lost"), 400, "validation_error")
    assert set(problem["errors"]) == {"status"}


def test_the_same_content_is_not_added_twice_and_a_new_file_under_the_same_name_is_a_version(
        editor, kb_a):
    client = ApiClient(new_key(editor, [kb_a], operations=DOCUMENTS))
    first = body(client.upload("faq.md", VPN_FAQ, "it-handbook"))
    again = client.upload("copy-of-faq.md", VPN_FAQ, "it-handbook")
    assert again.status_code == 200
    assert body(again)["duplicate"] and body(again)["id"] == first["id"]
    newer = body(client.upload("faq.md", VPN_FAQ + b"\nAsk the IT desk.\n", "it-handbook"))
    assert (newer["version"], newer["replaces"]) == (2, first["id"])
    assert Document.objects.filter(knowledge_base=kb_a).count() == 3  # handbook, faq v1, v2


def test_a_key_without_the_documents_scope_is_refused(editor, kb_a):
    client = ApiClient(new_key(editor, [kb_a], operations=("ask", "search")))
    handbook = Document.objects.get(original_name="handbook.md")
    for response in (client.get(DOCS), client.upload("faq.md", VPN_FAQ, "it-handbook"),
                     client.get(f"{DOCS}/{handbook.pk}"), client.delete(f"{DOCS}/{handbook.pk}")):
        assert "documents" in assert_problem(response, 403, "scope_missing")["detail"]
    assert Document.objects.filter(pk=handbook.pk).exists()


def test_another_knowledge_base_is_not_there_for_the_key(editor, kb_a, kb_b):
    # The owner reads and edits the board's knowledge base; this key does not name it.
    client = ApiClient(new_key(editor, [kb_a], operations=DOCUMENTS))
    minutes = Document.objects.get(original_name="minutes.md")
    assert_problem(client.upload("faq.md", VPN_FAQ, "board"), 404, "not_found")
    assert_problem(client.get(f"{DOCS}?knowledge_base=board"), 404, "not_found")
    assert_problem(client.get(f"{DOCS}/{minutes.pk}"), 404, "not_found")
    assert_problem(client.delete(f"{DOCS}/{minutes.pk}"), 404, "not_found")
    assert {d["knowledge_base"] for d in listed(client)["results"]} == {"it-handbook"}
    assert listed(client, "?status=indexed")["count"] == 1
    assert Document.objects.filter(pk=minutes.pk).exists()
    assert not Document.objects.filter(knowledge_base=kb_b, original_name="faq.md").exists()


def test_a_knowledge_base_the_owner_only_reads_is_read_only_for_the_key(owner, kb_a):
    client = ApiClient(new_key(owner, [kb_a], operations=DOCUMENTS))
    handbook = Document.objects.get(original_name="handbook.md")
    assert body(client.get(f"{DOCS}/{handbook.pk}"))["status"] == "indexed"
    refused = assert_problem(client.upload("faq.md", VPN_FAQ, "it-handbook"), 403,
                             "knowledge_base_read_only")
    assert kb_a.name in refused["detail"]
    assert_problem(client.delete(f"{DOCS}/{handbook.pk}"), 403, "knowledge_base_read_only")
    korean = ApiClient(new_key(owner, [kb_a], operations=DOCUMENTS), **{"Accept-Language": "ko"})
    in_korean = assert_problem(korean.upload("faq.md", VPN_FAQ, "it-handbook"), 403,
                               "knowledge_base_read_only")
    assert in_korean["title"] == "이 키로는 지식 베이스를 읽기만 할 수 있습니다"
    assert "편집자가 아닙니다" in in_korean["detail"]
    assert Document.objects.filter(knowledge_base=kb_a).count() == 1


def test_a_deleted_document_is_gone_from_the_list_and_from_search(editor, kb_a):
    client = ApiClient(new_key(editor, [kb_a], operations=("search", *DOCUMENTS)))
    document_id = body(client.upload("vpn-faq.md", VPN_FAQ, "it-handbook"))["id"]
    ingest(document_id)
    deleted = client.delete(f"{DOCS}/{document_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(client.get(f"{DOCS}/{document_id}"), 404, "not_found")
    assert document_id not in [d["id"] for d in listed(client)["results"]]
    passages = body(client.post("/api/v1/search", {"query": "WireGuard profile 180 days"}))
    assert "vpn-faq.md" not in {p["document"] for p in passages["passages"]}


def test_files_that_cannot_be_added_are_refused_with_a_reason(editor, kb_a, settings):
    client = ApiClient(new_key(editor, [kb_a], operations=DOCUMENTS))
    empty = assert_problem(client.upload("empty.md", b"", "it-handbook"), 400,
                           "validation_error")
    assert set(empty["errors"]) == {"file"}
    gif = assert_problem(client.upload("photo.gif", b"GIF89a" + bytes(200), "it-handbook"),
                         422, "unsupported_type")
    assert "PDF" in gif["detail"]
    locked = OLE2 + bytes(512) + "EncryptedPackage".encode("utf-16-le")  # a locked .xlsx
    assert_problem(client.upload("salaries.xlsx", locked, "it-handbook"), 422, "encrypted")
    missing = assert_problem(client.client.post(DOCS, {"knowledge_base": "it-handbook"},
                                                headers=client.headers), 400,
                             "validation_error")
    assert set(missing["errors"]) == {"file"}
    assert_problem(client.post(DOCS, {"knowledge_base": "it-handbook"}), 415,
                   "unsupported_media_type")
    settings.MAX_UPLOAD_BYTES = 1024 * 1024
    big = client.upload("big.txt", b"words " * 200_000, "it-handbook")
    assert "1 MB" in assert_problem(big, 413, "too_large")["detail"]
    assert Document.objects.filter(knowledge_base=kb_a).count() == 1


def test_an_idempotency_key_replays_the_first_response(editor, kb_a):
    key = new_key(editor, [kb_a], operations=DOCUMENTS)
    client = ApiClient(key)
    once = {"Idempotency-Key": "upload-42"}
    first = client.upload("vpn-faq.md", VPN_FAQ, "it-handbook", headers=once)
    retry = client.upload("vpn-faq.md", VPN_FAQ, "it-handbook", headers=once)
    assert first.status_code == retry.status_code == 201  # not 200 "duplicate": the same reply
    assert body(retry) == body(first) and retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    other_body = client.upload("other.md", b"# Other\n\nSomething else.\n", "it-handbook",
                               headers=once)
    assert_problem(other_body, 422, "idempotency_key_reused")
    # Keys are per API key: another key's "upload-42" is its own request.
    elsewhere = ApiClient(new_key(editor, [kb_a], operations=DOCUMENTS)).upload(
        "vpn-faq.md", VPN_FAQ, "it-handbook", headers=once)
    assert elsewhere.status_code == 200 and body(elsewhere)["duplicate"]
    assert Document.objects.filter(original_name__in=["vpn-faq.md", "other.md"]).count() == 1
    too_long = client.upload("x.md", VPN_FAQ, "it-handbook",
                             headers={"Idempotency-Key": "k" * 256})
    assert set(assert_problem(too_long, 400, "validation_error")["errors"]) == {
        "Idempotency-Key"}


@pytest.mark.slow
def test_the_same_idempotency_key_sent_twice_at_once_makes_one_document(server, editor, kb_a):
    headers = {"Authorization": f"Bearer {new_key(editor, [kb_a], operations=DOCUMENTS)}",
               "Idempotency-Key": "bot-run-7"}
    start = threading.Barrier(2)
    replies: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=server, headers=headers, timeout=60) as http:
            start.wait()
            replies.append(http.post(DOCS, data={"knowledge_base": "it-handbook"},
                                     files={"file": ("vpn-faq.md", VPN_FAQ)}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in replies] == [201, 201], [r.text for r in replies]
    assert replies[0].json() == replies[1].json()
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in replies) == ["", "true"]
    assert Document.objects.filter(original_name="vpn-faq.md").count() == 1
