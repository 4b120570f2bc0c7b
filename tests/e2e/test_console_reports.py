"""The console's reports in a real browser: a question the documents do not answer shows
up in the content gap report, and the report pages pass axe-core (no serious or critical
violation). The context bypasses the CSP only so that axe can be injected (see
test_accessibility.py); the pages themselves need no script."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_page import ask, pick
from tests.e2e.conftest import shoot, sign_in
from tests.e2e.test_accessibility import serious_violations

pytestmark = pytest.mark.slow

UNANSWERED = "Which bus line stops at the north gate of the campus?"


def test_an_admin_finds_an_unanswered_question_in_the_gap_report(site, new_page, screenshots):
    page, errors = new_page(bypass_csp=True)
    sign_in(page, site, "owner")
    pick(page, "Security handbook")
    answer = ask(page, UNANSWERED)
    expect(answer).to_contain_text("Security handbook")  # the refusal names what it searched

    page.get_by_role("link", name="Console").click()
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page.locator("svg.chart[role=img]").first).to_be_visible()
    found = {"questions": serious_violations(page)}
    # On a phone the chart scrolls sideways and opens at its latest days.
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    frame = page.locator(".chart-frame").first
    expect(frame).to_be_visible()
    assert frame.evaluate("f => f.scrollWidth > f.clientWidth && f.scrollLeft > 0")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("navigation", name="Reports").get_by_role(
        "link", name="Content gaps").click()
    page.get_by_label("Knowledge base").select_option(label="Security handbook")
    page.get_by_role("button", name="Show").click()
    topics = page.locator("table.topics")
    expect(topics).to_contain_text(UNANSWERED)
    shoot(page, screenshots, "console-reports-gaps")
    found["gaps"] = serious_violations(page)
    assert {name: v for name, v in found.items() if v} == {}
    assert errors.console == [] and errors.outside == []
