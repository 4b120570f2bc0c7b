"""The page shell in Chromium: signing in by keyboard alone, no policy violation, 360 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.factories import make_user

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package"),
]
# Where to save screenshots, when a person wants to look at the pages.
SHOTS = os.environ.get("CITEWISE_SCREENSHOTS")


@pytest.fixture
def kim():
    # Made before the browser starts: Playwright's sync API runs an event loop in this
    # thread, in which Django refuses database calls.
    return make_user("kim", superuser=True)


@pytest.fixture
def browser(kim):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(browser, *, width: int = 1280, locale: str = "en-US"):
    """A page that records what the browser refused or reported as an error."""
    page = browser.new_context(viewport={"width": width, "height": 800}, locale=locale).new_page()
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(
        message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    return page


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_sign_in_with_the_keyboard_alone(browser, live_server):
    page = open_page(browser)
    page.goto(f"{live_server.url}/chat/")
    shot(page, "login-en-1280")
    # The user name field has the focus already (autofocus; waited for, not assumed).
    page.wait_for_selector("input[name=username]:focus", timeout=10_000)
    page.keyboard.type("kim")
    page.keyboard.press("Tab")
    page.keyboard.type("pw-for-tests")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/chat/")
    shot(page, "shell-en-1280")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert page.problems == []


def test_korean_at_360_pixels_fits_without_scrolling_sideways(browser, live_server):
    page = open_page(browser, width=360, locale="ko-KR")
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("heading", name="Citewise 로그인").is_visible()
    shot(page, "login-ko-360")
    page.fill("#id_username", "kim")
    page.fill("#id_password", "pw-for-tests")
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(f"{live_server.url}/chat/")
    assert page.get_by_role("button", name="로그아웃").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "shell-ko-360")
    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Sign out").wait_for()  # the page after the switch
    assert page.problems == []
