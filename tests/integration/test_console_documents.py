"""The console's documents pages, through Django's test client: uploads (files and a
.zip), the rows the page polls, duplicates and versions, failures with their reason in
English and Korean, retry, search, filters, bulk delete, one document's page, and who
may see any of it.

Uploads are ingested in this process where a test needs the outcome (pipeline.ingest,
as a worker runs it); the browser test (tests/e2e/test_console_uploads.py) runs them
through the real worker."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from citewise.audit.models import Action, AuditEvent
from citewise.chat.models import Citation, Conversation, Message, Role
from citewise.knowledge.choices import FailureCode
from citewise.knowledge.models import Chunk, Document, DocumentStatus, Stage
from citewise.knowledge.pipeline import ingest
from tests.factories import load_document, make_kb, make_user

pytestmark = pytest.mark.django_db

HR_DOCS = "/console/knowledge-bases/hr/documents"  # the documents pages of "hr"
IT_DOCS = "/console/knowledge-bases/it/documents"
NOWHERE_DOCS = "/console/knowledge-bases/nowhere/documents"

GUIDE = "# Remote access\n\n## VPN\n\nOpen the WireGuard client and import the profile.\n"
LEAVE = "# Leave\n\nEmployees get fifteen days of paid leave a year.\n"
BROKEN_PDF = b"%PDF-1.4\n1 0 obj broken garbage\n"
XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


@pytest.fixture
def hr():
    return make_kb("hr")


@pytest.fixture
def editor(hr):
    user = make_user("editor")
    hr.editor_users.add(user)
    return user


@pytest.fixture
def client_of(editor):
    client = Client()
    client.force_login(editor)
    return client


def upload(client: Client, name: str, content: bytes, *, slug: str = "hr", **headers):
    return client.post(f"/console/knowledge-bases/{slug}/documents/upload",
                       {"file": SimpleUploadedFile(name, content)}, **(headers or XHR))


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return out.getvalue()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_files_and_a_zip_become_queued_documents_with_their_progress(client_of, hr, editor):
    for name, content in [("guide.md", GUIDE), ("leave.md", LEAVE), ("notes.txt", "Notes.")]:
        answer = upload(client_of, name, content.encode())
        assert answer.status_code == 200
        # What happened at upload, not a state: the list below follows the indexing.
        assert text_of(answer.content.decode()) == (
            "queued for indexing; its progress is in the list below")
    archive = zipped({"policies/travel.md": b"# Travel\n\nBook trains two weeks ahead.\n",
                      "policies/remote.md": b"# Remote\n\nWork from home two days a week.\n",
                      "__MACOSX/policies/._travel.md": b"\x00\x05\x16\x07",
                      "policies/": b""})
    answer = upload(client_of, "policies.zip", archive).content.decode()
    assert "policies.zip › policies/travel.md" in answer
    assert "policies.zip › policies/remote.md" in answer and "._travel" not in answer
    documents = Document.objects.filter(knowledge_base=hr)
    assert sorted(documents.values_list("original_name", flat=True)) == [
        "guide.md", "leave.md", "notes.txt", "remote.md", "travel.md"]
    assert set(documents.values_list("uploaded_by", flat=True)) == {editor.pk}

    page = client_of.get(f"{HR_DOCS}/").content.decode()
    assert page.count("Waiting for a worker · 0%") == 5
    assert page.count('<progress max="100" value="0"') == 5
    assert 'hx-trigger="every 2s"' in page  # the list watches them
    assert "5 documents being processed; 0 indexed, 0 failed." in page


def test_a_form_without_script_uploads_several_files_at_once(client_of, hr):
    page = client_of.post(f"{HR_DOCS}/upload", {"file": [
        SimpleUploadedFile("guide.md", GUIDE.encode()),
        SimpleUploadedFile("leave.md", LEAVE.encode())]}).content.decode()
    assert "<h1>Uploaded</h1>" in page
    assert "guide.md</span>:" in page and "leave.md</span>:" in page
    assert Document.objects.count() == 2
    assert client_of.post(f"{HR_DOCS}/upload", **XHR).status_code == 400


def test_korean_names_in_a_zip_from_windows_are_read(client_of, hr):
    """Windows' own "compressed folder" stores names in CP949 without the UTF-8 flag."""
    name = "휴가 규정.md".encode("cp949")
    placeholder = b"x" * (len(name) - 3) + b".md"
    archive = zipped({placeholder.decode(): LEAVE.encode()}).replace(placeholder, name)
    answer = upload(client_of, "hr.zip", archive).content.decode()
    assert "hr.zip › 휴가 규정.md" in answer
    assert Document.objects.get().original_name == "휴가 규정.md"


def test_a_zip_that_would_expand_too_much_is_refused_whole(client_of, hr, monkeypatch):
    monkeypatch.setattr("citewise.knowledge.uploads.MAX_ARCHIVE_EXPANDED_BYTES", 100)
    answer = upload(client_of, "big.zip", zipped({"a.txt": b"x" * 200})).content.decode()
    assert "Archive expands too much" in answer and "Split it" in answer
    assert not Document.objects.exists()


def test_the_polled_rows_follow_the_document_table_and_the_poll_stops(client_of, hr):
    upload(client_of, "guide.md", GUIDE.encode())
    document = Document.objects.get()
    rows_url = f"{HR_DOCS}/rows?ids={document.pk}"
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.PROCESSING, stage=Stage.EMBEDDING, progress=0.45)
    polled = client_of.get(rows_url).content.decode()
    assert "Embedding passages · 45%" in polled
    assert f'<tr id="doc-{document.pk}" hx-swap-oob="true"' in polled
    assert 'hx-trigger="every 2s"' in polled  # polls again
    assert "1 document being processed; 0 indexed, 0 failed." in polled
    # Counts unchanged since the page showed them: the live region is left alone.
    assert "documents-progress" not in client_of.get(rows_url + "&shown=1-0-0").content.decode()

    ingest(document.pk)
    polled = client_of.get(rows_url).content.decode()
    assert ">Indexed<" in polled and "<progress" not in polled
    assert "hx-trigger" not in polled  # nothing left to watch: the poll ends
    assert "No document is being processed; 1 indexed, 0 failed." in polled

    other = load_document(make_kb("it"), "other.md", LEAVE)
    polled = client_of.get(f"{HR_DOCS}/rows?ids={other.pk},999999").content.decode()
    # Another knowledge base's document is not shown; its row and a deleted one go.
    assert "other.md" not in polled
    assert f'<tr id="doc-{other.pk}" hx-swap-oob="delete">' in polled
    assert '<tr id="doc-999999" hx-swap-oob="delete">' in polled


def test_a_duplicate_links_to_the_existing_document_and_a_new_version_names_the_old(
        client_of, hr):
    first = load_document(hr, "guide.md", GUIDE)
    answer = upload(client_of, "copy-of-guide.md", GUIDE.encode()).content.decode()
    assert "duplicate of" in answer
    assert f'href="{HR_DOCS}/{first.pk}/"' in answer
    assert Document.objects.count() == 1

    answer = upload(client_of, "guide.md", (GUIDE + "\nUpdated in May.\n").encode())
    second = Document.objects.exclude(pk=first.pk).get()
    assert second.version == 2 and second.replaces == first
    assert (f'queued as version 2, replacing <a href="{HR_DOCS}/{first.pk}/">'
            in answer.content.decode())
    page = client_of.get(f"{HR_DOCS}/").content.decode()
    assert "replaces version 1" in page
    assert f"ids={second.pk},{first.pk}" in page  # watched: the old row goes at the swap


def failed_upload(client: Client) -> Document:
    upload(client, "broken.pdf", BROKEN_PDF)
    document = Document.objects.get(original_name="broken.pdf")
    ingest(document.pk)
    document.refresh_from_db()
    assert document.error_code == FailureCode.CORRUPT
    return document


def test_a_failure_shows_its_translated_reason_and_detail_with_retry(client_of, hr):
    failed = failed_upload(client_of)
    english = client_of.get(f"{HR_DOCS}/").content.decode()
    assert "Damaged file" in english
    assert "could not be read; it seems damaged" in english  # the detailed sentence
    assert "Retry with a new file" in english
    # The same file would fail again: no plain Retry button for a damaged file.
    assert f'aria-label="Retry {failed.title}"' not in english
    advice = "파일을 만든 프로그램에서 열어 새로 저장한 뒤"  # what to do, in Korean
    assert advice not in english
    korean = client_of.get(f"{HR_DOCS}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "손상된 파일" in korean and "Damaged file" not in korean
    assert advice in korean
    assert "새 파일로 다시 시도" in korean
    detail = client_of.get(f"{HR_DOCS}/{failed.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "손상된 파일" in detail and advice in detail


def test_retry_queues_a_transient_failure_again_and_leaves_an_audit_event(
        client_of, hr, editor):
    failed = failed_upload(client_of)
    refused = client_of.post(f"{HR_DOCS}/{failed.pk}/retry", follow=True)
    assert "The same file would fail again" in refused.content.decode()
    Document.objects.filter(pk=failed.pk).update(error_code=FailureCode.PARSE_TIME_LIMIT)
    page = client_of.get(f"{HR_DOCS}/").content.decode()
    assert "Reading took too long" in page and f"Retry {failed.title}" in page

    answer = client_of.post(f"{HR_DOCS}/{failed.pk}/retry",
                            {"back": "status=failed"})
    assert answer.status_code == 302
    assert answer["Location"] == f"{HR_DOCS}/?status=failed"
    failed.refresh_from_db()
    assert (failed.status, failed.stage, failed.error_code) == ("queued", "queued", "")
    event = AuditEvent.objects.get(action=Action.DOCUMENT_RETRIED)
    assert (event.user, event.target_id, event.knowledge_base) == (editor, str(failed.pk), hr)
    assert event.before == {"error_code": "parse_time_limit"}
    again = client_of.post(f"{HR_DOCS}/{failed.pk}/retry", follow=True)
    assert "Only a failed document can be retried." in again.content.decode()


def test_retry_with_a_new_file_replaces_the_failed_document(client_of, hr):
    failed = failed_upload(client_of)
    answer = client_of.post(f"{HR_DOCS}/{failed.pk}/retry",
                            {"file": SimpleUploadedFile("broken.pdf", LEAVE.encode())},
                            follow=True)
    replacement = Document.objects.get()
    assert replacement.pk != failed.pk and replacement.status == DocumentStatus.QUEUED
    assert answer.content.decode().count("is queued in place of broken.pdf") == 1  # shown once
    ingest(replacement.pk)
    replacement.refresh_from_db()
    assert replacement.status == DocumentStatus.INDEXED
    assert AuditEvent.objects.get(action=Action.DOCUMENT_RETRIED).after == {
        "document": replacement.pk, "duplicate": False}


def test_search_filters_pages_and_bulk_delete(client_of, hr, django_assert_max_num_queries):
    guide = load_document(hr, "guide.md", GUIDE)
    failed = failed_upload(client_of)
    Document.objects.bulk_create(
        Document(knowledge_base=hr, title=f"memo {n:02}.txt", original_name=f"memo {n:02}.txt",
                 sha256=f"{n:064x}", stored_path="", detected_type="text",
                 status=DocumentStatus.INDEXED, stage=Stage.INDEXED, progress=1.0)
        for n in range(60))

    def listed(query: str = "") -> str:
        return client_of.get(f"{HR_DOCS}/?{query}").content.decode()

    with django_assert_max_num_queries(12):  # the same for 62 documents as for 2
        first_page = listed()
    assert "Page 1 of 2" in first_page and first_page.count('name="ids"') == 50
    assert "memo 00.txt" in listed("page=2")
    assert text_of(listed("q=GUIDE")).count("guide.md") >= 1
    assert "memo 0" not in listed("q=GUIDE") and "broken.pdf" not in listed("q=GUIDE")
    by_status = listed("status=failed")
    assert "broken.pdf" in by_status and "guide.md" not in by_status
    by_type = listed("type=markdown")
    assert "guide.md" in by_type and "memo 0" not in by_type
    by_reason = listed("reason=corrupt")
    assert "broken.pdf" in by_reason and "guide.md" not in by_reason
    assert "No document matches." in listed("reason=encrypted")
    assert "memo 59" in listed("type=nonsense")  # not a choice: no filter

    confirm = client_of.post(f"{HR_DOCS}/delete",
                             {"ids": [guide.pk, failed.pk], "back": "q=g"})
    page = confirm.content.decode()
    assert "Delete 2 documents?" in page and "guide.md" in page and "broken.pdf" in page
    assert Document.objects.filter(pk__in=[guide.pk, failed.pk]).count() == 2
    done = client_of.post(f"{HR_DOCS}/delete",
                          {"ids": [guide.pk, failed.pk], "confirm": "yes", "back": "q=g"})
    assert done["Location"] == f"{HR_DOCS}/?q=g"
    assert not Document.objects.filter(pk__in=[guide.pk, failed.pk]).exists()
    assert not Chunk.objects.filter(document_id=guide.pk).exists()
    assert "2 documents deleted." in client_of.get(done["Location"]).content.decode()


def handbook_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Security handbook\n\nEvery employee carries a badge.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "Lost badges are reported to the security desk at extension 4455.")
    return bytes(pdf.output())


def test_the_document_page_shows_what_parsing_made_of_it_and_who_asked(
        client_of, hr, editor):
    pdf = load_document(hr, "handbook.pdf", handbook_pdf())
    asker = make_user("asker")
    conversation = Conversation.objects.create(user=asker)
    for question in ("Where do I report a lost badge?", "Who carries a badge?"):
        Message.objects.create(conversation=conversation, role=Role.USER, text=question)
        answer = Message.objects.create(conversation=conversation, role=Role.ASSISTANT,
                                        text="At the security desk [1].")
        chunk = pdf.chunks.first()
        Citation.objects.create(message=answer, n=1, chunk=chunk, document=pdf,
                                knowledge_base=hr, document_name=pdf.original_name,
                                title=pdf.title, page=2, snippet=chunk.text[:50])

    page = client_of.get(f"{HR_DOCS}/{pdf.pk}/").content.decode()
    text = text_of(page)
    assert "handbook.pdf" in text and "PDF" in text and pdf.sha256 in text
    assert "Page count 2" in text and "Version 1" in text and "Indexed" in text
    assert "Lost badges are reported to the security desk" in text  # a chunk
    assert "pages 1–2" in text
    assert f'src="{HR_DOCS}/{pdf.pk}/pages/1.png"' in page
    assert f'href="/documents/{pdf.pk}/original"' in page
    # The questions that cited it, most recent first.
    assert text.index("Who carries a badge?") < text.index("Where do I report a lost badge?")

    image = client_of.get(f"{HR_DOCS}/{pdf.pk}/pages/2.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")
    assert client_of.get(f"{HR_DOCS}/{pdf.pk}/pages/9.png").status_code == 404
    assert "Page 2 of 2" in client_of.get(
        f"{HR_DOCS}/{pdf.pk}/?page=2").content.decode()

    guide = load_document(hr, "guide.md", GUIDE)
    page = client_of.get(f"{HR_DOCS}/{guide.pk}/").content.decode()
    assert "Open the WireGuard client" in page
    # The title is the page's heading; a passage's headings go on below it.
    assert '<span class="headings">VPN</span>' in page and "Remote access ›" not in page
    assert "No answer has cited this document yet." in page
    assert f"{HR_DOCS}/{guide.pk}/pages/" not in page


def test_only_editors_of_the_knowledge_base_and_admins_may_use_its_pages(client_of, hr):
    it = make_kb("it")
    theirs = load_document(it, "theirs.md", LEAVE)
    ours = load_document(hr, "ours.md", GUIDE)
    for url in [f"{IT_DOCS}/", f"{IT_DOCS}/{theirs.pk}/",
                f"{IT_DOCS}/rows?ids={theirs.pk}",
                f"{HR_DOCS}/{theirs.pk}/",  # B's document under A's slug
                f"{HR_DOCS}/{theirs.pk}/pages/1.png",
                f"{NOWHERE_DOCS}/"]:
        assert client_of.get(url).status_code == 404, url
    for url in [f"{HR_DOCS}/{theirs.pk}/retry", f"{IT_DOCS}/upload"]:
        assert client_of.post(url).status_code == 404, url
    assert upload(client_of, "x.md", b"# X\n\ntext", slug="it").status_code == 404
    client_of.post(f"{HR_DOCS}/delete", {"ids": [theirs.pk], "confirm": "yes"})
    assert Document.objects.filter(pk=theirs.pk).exists()
    assert "theirs.md" not in client_of.get(
        f"{HR_DOCS}/rows?ids={theirs.pk}").content.decode()

    reader = Client()
    reader_user = make_user("reader")
    hr.reader_users.add(reader_user)
    reader.force_login(reader_user)
    assert reader.get(f"{HR_DOCS}/").status_code == 403
    assert reader.post(f"{HR_DOCS}/upload").status_code == 403
    assert Client().get(f"{HR_DOCS}/").status_code == 302  # sign in first

    admin = Client()
    admin.force_login(make_user("boss", superuser=True))
    assert admin.get(f"{IT_DOCS}/{theirs.pk}/").status_code == 200
    assert "ours.md" in admin.get(f"{HR_DOCS}/").content.decode()
    assert ours.pk


def test_the_pages_run_and_style_nothing_inline(client_of, hr):
    from tests.integration.test_web_shell import PageScripts

    failed = failed_upload(client_of)
    guide = load_document(hr, "guide.md", GUIDE)
    pages = {url: client_of.get(url) for url in (
        f"{HR_DOCS}/", f"{HR_DOCS}/{failed.pk}/",
        f"{HR_DOCS}/{guide.pk}/", f"{HR_DOCS}/rows?ids={failed.pk}")}
    pages["confirm"] = client_of.post(f"{HR_DOCS}/delete", {"ids": [guide.pk]})
    for url, response in pages.items():
        assert response.status_code == 200, url
        scripts = PageScripts()
        scripts.feed(response.content.decode())
        assert scripts.inline == [], url
        assert all(src.startswith("/static/") for src in scripts.scripts), url
