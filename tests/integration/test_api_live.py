"""The API on a live uvicorn server, as a bot would use it: plain httpx, the answer
streamed as SSE and parsed, and the interactive docs in Chromium under the site's CSP."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.integration.api_support import new_key, parse_sse

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"


def test_a_bot_asks_and_reads_the_stream_over_http(server, owner, kb_a, kb_b):
    headers = {"Authorization": f"Bearer {new_key(owner, [kb_a])}"}
    with httpx.Client(base_url=server, headers=headers, timeout=120) as client:
        slugs = [kb["slug"] for kb in client.get("/api/v1/knowledge-bases").json()["results"]]
        assert slugs == ["it-handbook"]
        whole = client.post("/api/v1/ask", json={"question": "How often do passwords expire?"})
        assert whole.status_code == 200 and "90 days" in whole.json()["answer"]
        with client.stream("POST", "/api/v1/ask", json={
                "question": "How often do passwords expire?", "stream": True}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            body = "".join(response.iter_text())
        events = parse_sse(body)
        assert events[0][0] == "delta" and events[-1][0] == "done"
        done = events[-1][1]
        assert done["answer"] == whole.json()["answer"]
        assert done["citations"][0]["source_url"].startswith(f"{server}/sources/")
        refused = client.get("/api/v1/knowledge-bases/board")
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"


def test_the_docs_page_runs_under_the_sites_csp(server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium")
    violations, failed = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.on("requestfailed", lambda r: failed.append(r.url))
        response = page.goto(f"{server}/api/docs/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector(".opblock-summary-path[data-path='/api/v1/ask']",
                               timeout=30_000)
        assert "Citewise API" in page.inner_text(".swagger-ui .info")
        page.screenshot(path=os.environ.get("API_DOCS_SCREENSHOT", str(tmp_path / "docs.png")),
                        full_page=True)
        browser.close()
    assert violations == [] and failed == []
