"""How soon the console shows a document's new status: from the moment its row says
`indexed` in the database to the moment the documents page in the browser shows it.

    .venv/bin/python benchmarks/console_live_status.py [--documents 30] [--json] [--no-write]

Runs the web server as `make run` does (uvicorn, SQLite, a fresh data directory; no
worker: this script plays the worker's last step itself). A knowledge base gets
--documents documents, all `processing`. Debian's Chromium (Playwright), signed in as
the admin, opens the knowledge base's documents page, which polls the document table
(htmx, every 2 s) while anything is pending. Then, one at a time and at a random moment
(0-2 s apart, so the changes do not fall in step with the polling), this script marks a
document indexed through the ORM (what pipeline._publish writes) and notes the time; a
MutationObserver in the page notes when that document's row turned `status-indexed`.
Both clocks are this machine's; the offset between Python's and the page's clock is
measured as in benchmarks/chat_page.py and subtracted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-Password-1"  # noqa: S105 - a throwaway admin of a temporary site
CHROMIUM = "/usr/bin/chromium"

WATCH_ROWS = """() => {
  window.citewiseSeen = {};
  const observer = new MutationObserver(() => {
    for (const row of document.querySelectorAll("tr.status-indexed[id^='doc-']")) {
      if (!(row.id in window.citewiseSeen)) {
        window.citewiseSeen[row.id] = performance.timeOrigin + performance.now();
      }
    }
  });
  observer.observe(document.body, {childList: true, subtree: true, attributes: true,
                                   attributeFilter: ["class"]});
}"""


def environment(data_dir: Path) -> dict[str, str]:
    from tests.helpers import clean_env

    return clean_env(CITEWISE_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1",
                     DJANGO_SETTINGS_MODULE="citewise.settings", CITEWISE_LOG_LEVEL="WARNING",
                     CITEWISE_ADMIN_USER="owner", CITEWISE_ADMIN_PASSWORD=PASSWORD,
                     PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT)]))


def pending_documents(count: int) -> tuple[str, list[int]]:
    """A knowledge base with `count` documents being processed; (slug, ids)."""
    from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase, Stage

    kb = KnowledgeBase.objects.create(name="Benchmark", slug="benchmark")
    documents = Document.objects.bulk_create(
        Document(knowledge_base=kb, title=f"report-{n}.pdf", original_name=f"report-{n}.pdf",
                 sha256=f"{n:064x}", stored_path=f"bench/{n}", status=DocumentStatus.PROCESSING,
                 stage=Stage.EMBEDDING, progress=0.5) for n in range(count))
    return kb.slug, [document.pk for document in documents]


def mark_indexed(document_id: int) -> float:
    """What the worker's last step writes; returns the time it was committed (s)."""
    from django.utils import timezone

    from citewise.knowledge.models import Document, DocumentStatus, Stage

    Document.objects.filter(pk=document_id).update(
        status=DocumentStatus.INDEXED, stage=Stage.INDEXED, progress=1.0,
        indexed_at=timezone.now())
    return time.time()


def measure(url: str, slug: str, ids: list[int]) -> list[float]:
    from playwright.sync_api import sync_playwright

    from benchmarks.chat_page import clock_offset

    delays = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{url}/accounts/login/")
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", PASSWORD)
        # The sign-in form's button, not the language switcher's (also a form).
        page.locator("form:has(input[name=password]) [type=submit]").click()
        page.wait_for_url(f"{url}/chat/**")
        page.goto(f"{url}/console/knowledge-bases/{slug}/documents/")
        page.evaluate(WATCH_ROWS)
        offset, _uncertainty = clock_offset(page)
        for document_id in ids:
            time.sleep(random.uniform(0, 2))  # noqa: S311 - spreading, not secrets
            written = mark_indexed(document_id) * 1000
            page.wait_for_function(f"() => 'doc-{document_id}' in window.citewiseSeen",
                                   timeout=20_000)
            seen = page.evaluate(f"window.citewiseSeen['doc-{document_id}']")
            delays.append(seen - offset - written)
        browser.close()
    return delays


def run(count: int) -> dict:
    from benchmarks.api_load import start_web, stop

    data_dir = Path(tempfile.mkdtemp(prefix="citewise-console-live-"))
    env = environment(data_dir)
    try:
        for command in (["migrate", "--verbosity", "0"], ["ensure_admin"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                           check=True, capture_output=True)
        os.environ.update(env)
        # The ORM writes run beside Playwright's sync API, whose event loop makes Django
        # refuse them; this process serves no requests, so nothing is unsafe here.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        import django

        django.setup()
        slug, ids = pending_documents(count)
        url, web = start_web(env, data_dir / "web.log")
        try:
            delays = measure(url, slug, ids)
        finally:
            stop(web)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    ordered = sorted(delays)
    return {"documents": count, "p50_ms": statistics.median(ordered),
            "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "max_ms": ordered[-1], "delays_ms": delays}


def report(result: dict, command: str) -> str:
    return (f"Command: `{command}`; machine: {os.cpu_count()} CPU cores, {platform.system()} "
            f"{platform.machine()}, Python {platform.python_version()}, Debian Chromium "
            f"(headless); SQLite; one uvicorn process; the page polls every 2 s.\n\n"
            f"From `indexed` in the database to the row showing it, over "
            f"{result['documents']} documents: **p50 {result['p50_ms']:.0f} ms, p95 "
            f"{result['p95_ms']:.0f} ms** (max {result['max_ms']:.0f} ms).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    result = run(args.documents)
    text = report(result, "python " + " ".join(sys.argv))
    print(json.dumps(result, indent=2) if args.json else text)
    if not args.no_write:
        results = ROOT / "benchmarks" / "RESULTS.md"
        results.write_text(results.read_text() + "\n## The console's live document status "
                           "(issue 13)\n\n" + text + "\n")


if __name__ == "__main__":
    main()
