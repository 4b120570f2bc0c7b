"""Browser tests: Debian's Chromium driven by Playwright, against Citewise as `make run`
starts it (`manage.py serve`: uvicorn and a Celery worker, SQLite and the filesystem
broker, a fresh data directory), with the demo knowledge base and the documents of
tests/e2e/site.py ingested by the real worker.

Chromium comes from Debian's `chromium` package (CI installs it); where it is missing
the browser tests are skipped with that reason. Never `playwright install`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import llm_stand_in
from tests.helpers import REPO_ROOT, clean_env

CHROMIUM = os.environ.get("CITEWISE_TEST_CHROMIUM", "/usr/bin/chromium")
READY_WITHIN = 180
INDEXED_WITHIN = 420
PASSWORD = "e2e-Password-1"  # the users of tests/e2e/site.py

pytestmark = pytest.mark.slow


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (Debian package `chromium`)")
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(skip)


@dataclass
class Site:
    url: str  # ends without a slash
    data_dir: Path
    env: dict[str, str]
    facts: dict  # what tests/e2e/site.py created: users, knowledge bases, documents
    llm: llm_stand_in.StandIn  # the slow vLLM stand-in that the "cafeteria" base asks

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT,
                              env=self.env, capture_output=True, text=True, timeout=300,
                              check=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"manage.py serve exited:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"not ready within {READY_WITHIN} s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[Site]:
    """Citewise running as `make run` runs it, populated by tests/e2e/site.py, with
    every document indexed. Answers are extractive (the default), except in the
    "cafeteria" knowledge base, set to the vLLM backend, whose vLLM is a slow stand-in
    (tests/e2e/llm_stand_in.py): the one way to have an answer long enough to stop."""
    llm, llm_server = llm_stand_in.start()
    data_dir = tmp_path_factory.mktemp("e2e-data")
    port = _free_port()
    env = clean_env(CITEWISE_DATA_DIR=str(data_dir), PORT=str(port), HF_HUB_OFFLINE="1",
                    CITEWISE_ADMIN_USER="owner", CITEWISE_ADMIN_PASSWORD=PASSWORD,
                    VLLM_BASE_URL=llm.url, VLLM_MODEL=llm_stand_in.MODEL)
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "manage.py", "serve"], cwd=REPO_ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        populated = subprocess.run(
            [sys.executable, "-m", "tests.e2e.site", "populate", PASSWORD], cwd=REPO_ROOT,
            env=env, capture_output=True, text=True, timeout=INDEXED_WITHIN + 60, check=False)
        assert populated.returncode == 0, populated.stderr + log.read_text(errors="replace")
        facts = json.loads(populated.stdout.strip().splitlines()[-1])
        yield Site(url=url, data_dir=data_dir, env=env, facts=facts, llm=llm)
    finally:
        process.send_signal(2)  # Ctrl-C: serve stops uvicorn and the worker in order
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        llm_server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class BrowserErrors:
    """Dialogs (alert, confirm), console errors and requests leaving the site, as they
    happen on a page: what a script injected by a document would cause."""

    def __init__(self, page, site_url: str) -> None:
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.outside: list[str] = []
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message),
                                          dialog.dismiss()))
        page.on("console", lambda message: message.type == "error"
                and self.console.append(message.text))
        page.on("request", lambda request: not request.url.startswith((site_url, "data:"))
                and self.outside.append(request.url))


@pytest.fixture
def new_page(browser, site):
    """new_page(locale="en-US", width=1280, height=900, **context options) ->
    (page, BrowserErrors); closed after the test."""
    contexts = []

    def make(locale: str = "en-US", width: int = 1280, height: int = 900, **options):
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height},
                                      **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page, BrowserErrors(page, site.url)

    yield make
    for context in contexts:
        context.close()


def sign_in(page, site: Site, username: str) -> None:
    page.goto(f"{site.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    # The sign-in form's button, not the language switcher's (also a form, in the header).
    page.locator("form:has(input[name=password]) [type=submit]").click()
    page.wait_for_url(f"{site.url}/chat/**")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests leave screenshots: CITEWISE_SCREENSHOTS, or a folder in the
    temporary directory. docs/images/ holds the ones the docs show; to take them again:
    `CITEWISE_SCREENSHOTS=docs/images pytest tests/e2e --ignore tests/e2e/test_shell.py`
    (test_shell.py saves screenshots of its own there too)."""
    folder = Path(os.environ.get("CITEWISE_SCREENSHOTS") or "/tmp/citewise-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder: Path, name: str, *, around: list | None = None) -> Path:
    """The visible part of the page (or the area around the `around` locators, with a
    margin) as a PNG, made small (a palette of 256 colours is plenty for a user
    interface) so docs/ does not grow by megabytes."""
    from PIL import Image

    path = folder / f"{name}.png"
    clip = None
    if around:
        boxes = [locator.bounding_box() for locator in around]
        left, top = min(b["x"] for b in boxes) - 16, min(b["y"] for b in boxes) - 16
        right = max(b["x"] + b["width"] for b in boxes) + 16
        bottom = max(b["y"] + b["height"] for b in boxes) + 16
        clip = {"x": max(left, 0), "y": max(top, 0), "width": right - max(left, 0),
                "height": bottom - max(top, 0)}
    page.screenshot(path=str(path), clip=clip)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path
