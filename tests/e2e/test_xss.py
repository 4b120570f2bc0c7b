"""Script written into every field a person can fill (tests/e2e/hostile_site.py: document
text, title and file name, knowledge base name, question, the model's answer quoting the
text, a feedback comment, an unanswered question) stays text everywhere it is shown, in
Chromium: the chat (streamed answer, citation preview, history), the source viewer, the
console (knowledge bases, documents, reports, audit log) and Django's admin lists.

Each payload would set window.__xss if it ran; an inline script or handler that reached a
page would also be refused by the CSP, which Chromium reports on the console. So on every
page: no dialog, no console error, window.__xss untouched, no injected element, and the
payload's own characters visible as text."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.e2e import hostile_site as hostile
from tests.e2e.chat_page import ask, pick
from tests.e2e.conftest import PASSWORD, sign_in
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.slow

# What an injected element would be, anywhere in the page (inline scripts included:
# Citewise's pages have none, and Django's admin only JSON data blocks).
INJECTED = ("script:not([src]):not([type='application/json']), img[src=x], [onerror], "
            "[onload], [ontoggle], a[href^='javascript:' i], svg[onload]")


@pytest.fixture(scope="module")
def hostile_site(site) -> dict:
    made = subprocess.run([sys.executable, "-m", "tests.e2e.hostile_site", PASSWORD],
                          cwd=REPO_ROOT, env=site.env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout.strip().splitlines()[-1])


class Inert:
    """Checks a page for any sign of a payload having run or become markup."""

    def __init__(self, page, errors) -> None:
        self.page, self.errors = page, errors
        self.missing: list[str] = []
        page.on("response", lambda r: r.status == 404 and self.missing.append(r.url))
        page.add_init_script("window.__xss = null;")

    def check(self, where: str, *literal: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        assert page.evaluate("window.__xss") is None, where
        assert page.locator(INJECTED).count() == 0, (where, page.locator(INJECTED).first
                                                     .evaluate("e => e.outerHTML"))
        text = page.locator("body").inner_text()
        for piece in literal:
            assert piece in text, (where, piece)
        assert self.errors.dialogs == [], (where, self.errors.dialogs)
        assert self.errors.console == [], (where, self.errors.console, self.missing)
        assert self.errors.outside == [], (where, self.errors.outside)


def test_every_attack_is_shown_as_text_wherever_it_is_shown(site, hostile_site, new_page):
    page, errors = new_page()
    inert = Inert(page, errors)
    sign_in(page, site, hostile.USER)
    inert.check("chat", hostile.KB_NAME)
    pick(page, hostile.KB_NAME)
    answer = ask(page, hostile.QUESTION)
    expect(answer.locator(".answer-body")).to_contain_text(hostile.TEXT_PAYLOAD)
    inert.check("streamed answer", hostile.QUESTION, hostile.TEXT_PAYLOAD)
    chip = answer.locator("a.cite").first
    chip.focus()  # the preview shows on keyboard focus as on hover
    expect(chip.locator(".cite-title")).to_have_text(hostile.TITLE)
    inert.check("citation preview", hostile.TITLE)
    expect(page.locator("#history")).to_contain_text(hostile.QUESTION)
    # An answer quoting the sentence with the Markdown javascript: link (answers are
    # Markdown, rendered and sanitised on the server).
    keys = ask(page, "Where are the keys for lockers handed out?")
    expect(keys.locator(".answer-body")).to_contain_text("handed out at reception")
    inert.check("answer with a Markdown link")

    # Rated with a hostile comment, through the endpoint the rating form posts to; and a
    # hostile question the documents do not answer, for the content gap report.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    rated = page.request.post(
        f"{site.url}/chat/messages/{answer.get_attribute('data-message-id')}/feedback",
        form={"rating": "down", "comment": hostile.COMMENT},
        headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert rated.ok, rated.text()
    refusal = ask(page, hostile.UNANSWERED)
    expect(refusal).to_contain_text(hostile.KB_NAME)  # "not found in <the knowledge base>"
    inert.check("not found", hostile.UNANSWERED)

    page.reload()  # the stored conversation, rendered by the server alone
    inert.check("stored conversation", hostile.QUESTION, hostile.TEXT_PAYLOAD,
                hostile.UNANSWERED)
    page.locator("#messages article.answer a.cite").first.click()
    page.wait_for_url("**/sources/**")
    expect(page.locator("h1")).to_have_text(hostile.TITLE)
    inert.check("source viewer", hostile.TITLE, hostile.TEXT_PAYLOAD, hostile.KB_NAME)
    console_and_admin(page, inert, site.url, hostile_site)


def console_and_admin(page, inert: Inert, url: str, hostile_site: dict) -> None:
    """The console's and the admin's pages that show what the chat above left behind."""
    slug, document = hostile_site["knowledge_base"], hostile_site["document"]
    # The file name is shown as stored: the upload keeps no angle brackets in it.
    stored_name = "img src=x onerror="
    console = [("/console/", [hostile.KB_NAME]),
               (f"/console/knowledge-bases/{slug}/", [hostile.KB_NAME]),
               (f"/console/knowledge-bases/{slug}/documents/", [hostile.TITLE]),
               (f"/console/knowledge-bases/{slug}/documents/{document}/",
                [hostile.TITLE, stored_name]),
               ("/console/reports/questions/", []),
               ("/console/reports/answers/", []),
               ("/console/reports/feedback/", [hostile.COMMENT]),
               ("/console/reports/gaps/", [hostile.UNANSWERED]),
               ("/console/audit/", [hostile.KB_NAME])]
    admin = [("/admin/knowledge/knowledgebase/", [hostile.KB_NAME]),
             ("/admin/knowledge/document/", [hostile.TITLE]),
             (f"/admin/knowledge/document/{document}/change/", [hostile.TITLE]),
             ("/admin/chat/answer/", [hostile.KB_NAME]),
             ("/admin/chat/unansweredquestion/", [hostile.UNANSWERED]),
             ("/admin/audit/auditevent/", [hostile.KB_NAME])]
    for path, literal in console + admin:
        response = page.goto(url + path)
        assert response.status == 200, path
        inert.check(path, *literal)
