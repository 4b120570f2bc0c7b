"""axe-core (vendored in tests/e2e/vendor, from the npm registry) finds no serious or
critical accessibility violation on the pages an employee uses: sign-in, the chat with
an answer shown, and the source viewer for a PDF page and for extracted text.

axe is injected into the page as a script. Citewise's Content-Security-Policy allows
only its own script files, so the browser refuses an injected one, as it should; these
contexts, and only these, are opened with `bypass_csp=True` so that axe can run. Every
other browser test keeps the policy on (and fails on its console errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_page import ask
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.slow

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


def serious_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in ("serious", "critical")]


def test_the_csp_refuses_an_injected_script(site, new_page):
    """Why the other tests here bypass the policy: without that, axe never loads."""
    page, _ = new_page()
    page.goto(f"{site.url}/accounts/login/")
    with pytest.raises(Exception, match=r"Content Security Policy"):
        page.add_script_tag(content="window.injected = true;")
    assert page.evaluate("typeof window.injected") == "undefined"


def test_login_chat_and_source_pages_have_no_serious_violation(site, new_page):
    page, _ = new_page(bypass_csp=True)
    page.goto(f"{site.url}/accounts/login/")
    found = {"login": serious_violations(page)}

    # bob asks the demo knowledge base (the documentation), as a new user would.
    sign_in(page, site, "bob")
    answer = ask(page, "How do I pick the knowledge bases to ask?")
    expect(answer).to_be_visible()
    found["chat"] = serious_violations(page)

    sign_in_again = page.context.browser.new_context(bypass_csp=True)
    try:
        alice = sign_in_again.new_page()
        sign_in(alice, site, "alice")
        chunks = site.facts["chunks"]
        alice.goto(f"{site.url}/sources/{chunks['badges.pdf']}/?page=2")
        expect(alice.locator("figure.pdf-page img")).to_be_visible()
        found["source (PDF page)"] = serious_violations(alice)
        alice.goto(f"{site.url}/sources/{chunks['visitors.docx']}/")
        expect(alice.locator("mark#cited")).to_be_visible()
        found["source (text)"] = serious_violations(alice)
    finally:
        sign_in_again.close()
    assert {page: v for page, v in found.items() if v} == {}
