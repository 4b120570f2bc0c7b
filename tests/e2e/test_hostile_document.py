"""A document written to attack its readers (tests/e2e/site.py HOSTILE_HTML: <script> in
its title and text, onerror= and onload= handlers, a javascript: link, a file name that
is an <img> tag) is cited and opened: nothing runs, nothing loads from elsewhere, and its
title reads as the text it is."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_page import ask, pick
from tests.e2e.conftest import sign_in
from tests.e2e.site import HOSTILE_NAME

pytestmark = pytest.mark.slow

TITLE = "Parking <script>alert('title')</script> rules"
# What an injected element would be, anywhere in the page.
INJECTED = "main script, img[src=x], [onerror], [onload], a[href^='javascript:'], svg[onload]"


def test_a_hostile_document_is_cited_and_viewed_without_running_anything(site, new_page):
    page, errors = new_page()
    sign_in(page, site, "alice")
    pick(page, "Security handbook")
    answer = ask(page, "When are parking permits renewed?")
    expect(answer.locator(".answer-body")).to_contain_text(
        "renewed every January at the facilities office <script>alert('text')</script>")
    chip = answer.locator("a.cite").first
    chip.focus()  # the preview shows on keyboard focus as on hover
    expect(chip.locator(".cite-preview")).to_be_visible()
    expect(chip.locator(".cite-title")).to_have_text(TITLE)
    assert page.locator(INJECTED).count() == 0

    chip.click()
    page.wait_for_url("**/sources/**")
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator("mark#quote")).to_contain_text("<script>alert('text')</script>")
    expect(page.locator("article.extracted")).to_contain_text("See the javascript: map")
    assert page.locator(INJECTED).count() == 0
    # The file name is shown as stored: the tag's brackets did not survive the upload.
    expect(page.locator("p.meta")).to_contain_text("img src=x onerror=alert(1)")
    assert HOSTILE_NAME not in page.content()

    # The original is a download in a sandbox, never a page on Citewise's origin.
    original = page.request.get(site.url + page.get_by_role(
        "link", name="Open the original file").get_attribute("href"))
    assert original.status == 200
    assert original.headers["content-disposition"].startswith("attachment")
    assert original.headers["content-type"] == "application/octet-stream"
    assert original.headers["content-security-policy"] == "sandbox"

    page.reload()  # and once more after a reload, now rendered by the server alone
    assert page.locator(INJECTED).count() == 0
    page.go_back()
    page.wait_for_url("**/chat/c/**")
    expect(page.locator("#messages a.cite")).to_have_count(1)
    assert page.locator(INJECTED).count() == 0
    assert errors.dialogs == [], errors.dialogs
    assert errors.console == [], errors.console
    assert errors.outside == [], errors.outside
