"""An admin drops three files at once on a knowledge base's documents page, one of them
broken: each shows its transfer progress, then the rows follow the real worker to
indexed and to failed with the reason in words, without a reload; the broken one is
retried with a replacement file. axe-core finds no serious violation on the pages
(in a context that bypasses the CSP so it can load; see test_accessibility.py)."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot, sign_in
from tests.e2e.site import pdf_bytes
from tests.e2e.test_accessibility import serious_violations

pytestmark = pytest.mark.slow

INDEXED_WITHIN_MS = 180_000
FILES = [("guide.md", b"# Remote access\n\nOpen the WireGuard client to connect.\n",
          "text/markdown"),
         ("leave.txt", b"Employees get fifteen days of paid leave a year.\n", "text/plain"),
         ("broken.pdf", b"%PDF-1.4\n1 0 obj broken garbage\n", "application/pdf")]
DROP = """(files) => {
  const transfer = new DataTransfer();
  for (const [name, data, type] of files) {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, {type}));
  }
  return transfer;
}"""


@pytest.fixture(scope="module")
def uploads_kb(site) -> str:
    site.manage("shell", "-c",
                "from citewise.knowledge.permissions import SYSTEM\n"
                "from citewise.knowledge.services import create_knowledge_base\n"
                "create_knowledge_base(SYSTEM, name='Uploads', slug='uploads', language='en')")
    return f"{site.url}/console/knowledge-bases/uploads/documents/"


def row_of(page, name: str):
    return page.locator("#documents-list tbody tr", has_text=name)


def test_dropped_files_show_progress_and_end_indexed_or_failed_then_retry(
        site, new_page, uploads_kb, screenshots):
    page, errors = new_page()
    sign_in(page, site, "owner")
    page.goto(uploads_kb)
    page.evaluate("window.notReloaded = true")
    transfer = page.evaluate_handle(DROP, [[name, base64.b64encode(data).decode(), kind]
                                           for name, data, kind in FILES])
    page.dispatch_event("#upload-form", "drop", {"dataTransfer": transfer})

    uploads = page.locator("#upload-list > li")
    expect(uploads).to_have_count(3)
    for name, _data, _kind in FILES:
        item = uploads.filter(has_text=name)
        expect(item.get_by_label(name)).to_have_js_property("value", 100)  # <progress>
        expect(item.locator(".upload-result")).to_contain_text("queued for indexing")

    expect(row_of(page, "guide.md").locator(".badge")).to_have_text(
        "Indexed", timeout=INDEXED_WITHIN_MS)
    expect(row_of(page, "leave.txt").locator(".badge")).to_have_text(
        "Indexed", timeout=INDEXED_WITHIN_MS)
    broken = row_of(page, "broken.pdf")
    expect(broken.locator(".badge")).to_have_text("Failed", timeout=INDEXED_WITHIN_MS)
    expect(broken.locator(".reason")).to_have_text("Damaged file")
    expect(page.locator("#documents-poller")).not_to_have_attribute("hx-trigger", "every 2s")
    assert page.evaluate("window.notReloaded") is True  # all of it without a reload

    broken.get_by_text("Retry with a new file").click()
    broken.scroll_into_view_if_needed()
    shoot(page, screenshots, "console-documents-failed-en-1280")
    broken.get_by_label("New file for broken.pdf").set_input_files(
        files=[{"name": "broken.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}])
    broken.get_by_role("button", name="Retry", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("is queued in place of broken.pdf")
    replaced = row_of(page, "broken.pdf")
    expect(replaced.locator(".badge")).to_have_text("Indexed", timeout=INDEXED_WITHIN_MS)
    expect(page.locator("#documents-list tbody tr")).to_have_count(3)
    assert errors.console == [], errors.console

    for locale, width in [("en-US", 360), ("ko-KR", 1280), ("ko-KR", 360)]:
        look, _ = new_page(locale=locale, width=width, height=1400)
        sign_in(look, site, "owner")
        look.goto(uploads_kb)
        language = locale[:2]
        shoot(look, screenshots, f"console-documents-{language}-{width}")
        row_of(look, "broken.pdf").locator("a").click()  # the replacement: a PDF
        preview = look.locator(".page-preview img")
        expect(preview).to_have_js_property("complete", True)
        assert preview.evaluate("image => image.naturalWidth") > 0  # rendered and allowed
        shoot(look, screenshots, f"console-document-{language}-{width}")


def test_the_documents_pages_have_no_serious_violation(site, new_page, uploads_kb):
    page, _ = new_page(bypass_csp=True)
    sign_in(page, site, "owner")
    page.goto(uploads_kb)
    transfer = page.evaluate_handle(DROP, [["still-broken.pdf",
                                            base64.b64encode(b"%PDF-1.4 no").decode(),
                                            "application/pdf"]])
    page.dispatch_event("#upload-form", "drop", {"dataTransfer": transfer})
    expect(row_of(page, "still-broken.pdf").locator(".reason")).to_have_text(
        "Damaged file", timeout=INDEXED_WITHIN_MS)
    row_of(page, "still-broken.pdf").get_by_text("Retry with a new file").click()
    found = {"documents": serious_violations(page)}
    page.locator("#documents-list tbody tr a").first.click()
    page.wait_for_url("**/documents/*/")
    found["document"] = serious_violations(page)
    assert {name: v for name, v in found.items() if v} == {}
