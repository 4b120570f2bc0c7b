"""The audit log in Chromium: an admin signs in, goes to the console's audit log by its
links, finds their own sign-in there and exports it, in English and in Korean, at 1280
and 360 px; axe-core finds no serious or critical violation on the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot, sign_in
from tests.e2e.test_accessibility import serious_violations

pytestmark = pytest.mark.slow

# console link, page, person filter, filter button, the action's label
LABELS = {"en-US": ("Console", "Audit log", "Person (user name)", "Filter", "Signed in"),
          "ko-KR": ("콘솔", "감사 로그", "사용자(아이디)", "필터", "로그인")}


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_an_admin_finds_their_own_sign_in_in_the_audit_log(site, new_page, screenshots,
                                                            locale):
    console, audit_log, person, apply_filter, signed_in = LABELS[locale]
    page, errors = new_page(locale=locale)
    sign_in(page, site, "owner")
    page.get_by_role("link", name=console, exact=True).click()
    page.get_by_role("navigation", name=console).get_by_role("link", name=audit_log).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(audit_log)

    # The newest sign-in is this one (the site's own sign-ins came before it).
    page.get_by_label(person).fill("owner")
    page.get_by_role("button", name=apply_filter, exact=True).click()
    newest = page.locator(".audit-table tbody tr").first
    expect(newest).to_contain_text(signed_in)
    expect(newest).to_contain_text("owner")
    expect(newest).to_contain_text("127.0.0.1")
    assert (errors.console, errors.outside) == ([], [])

    # The export has the same rows, streamed by the server (UTF-8 with a byte order mark).
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV" if locale == "en-US" else "CSV 내보내기").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("\ufeff")
    first_row = exported.splitlines()[1].split(",")
    assert (first_row[1], first_row[3], first_row[4]) == ("owner", "127.0.0.1", "sign_in")

    page.goto(f"{site.url}/console/audit/")  # the whole log: system's uploads and more
    shoot(page, screenshots, f"console-audit-{locale[:2]}-1280")
    page.set_viewport_size({"width": 360, "height": 800})
    shoot(page, screenshots, f"console-audit-{locale[:2]}-360")
    rows = page.locator(".audit-table tbody tr")
    rows.nth(2).scroll_into_view_if_needed()
    shoot(page, screenshots, f"console-audit-{locale[:2]}-360-rows",
          around=[rows.nth(0), rows.nth(2)])
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll


def test_the_audit_log_has_no_serious_accessibility_violation(site, new_page):
    page, _ = new_page(bypass_csp=True)  # axe is an injected script: see test_accessibility
    sign_in(page, site, "owner")
    page.goto(f"{site.url}/console/audit/")
    expect(page.locator(".audit-table tbody tr").first).to_be_visible()
    assert serious_violations(page) == []
