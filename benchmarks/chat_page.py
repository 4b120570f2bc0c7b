"""The chat page in Chromium: how long the first token takes from the server to the screen,
what the page ships, and how many requests a page load makes.

    .venv/bin/python benchmarks/chat_page.py [--questions 30] [--json] [--no-write]

Runs Citewise as `make run` does (uvicorn and a Celery worker, SQLite, a fresh data
directory), populated like the browser tests (tests/e2e/site.py), with one difference:
uvicorn serves `benchmarks.chat_page:timed_application`, Citewise's own ASGI application
wrapped so that the moment it hands each answer stream's first `text` event to the
server (the ASGI `send`, before uvicorn writes it to the socket) is written down. Then
Debian's Chromium (Playwright), signed in as alice, asks --questions questions of the
security handbook, each in a new conversation, the way a person does (type, Enter). The
page records, with a MutationObserver, when the first piece of answer text was added to
the page, and, with the next animation frame after that, when it could be painted.

Time to screen = page time - server time. Both are wall-clock times of this machine
(Python's time.time(); the page's performance.timeOrigin + performance.now()); the
offset between the two clocks is measured (the page's clock read between two Python
readings, the tightest of 20 tries) and subtracted.

Also measured on /chat/: JavaScript and CSS (the files the page loads, gzipped at level 9,
and what actually crossed the wire), and the requests of a first load (empty cache) and
of a reload.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMPS = "CITEWISE_BENCH_STAMPS"  # where timed_application writes its times (JSON lines)
QUESTIONS = ("Who disables lost badges?", "What do visitors have to wear in our offices?",
             "When are parking permits renewed?")
TARGET_KB = 60 * 1024  # issue 11: JavaScript and CSS of the chat page, gzipped


# ----- in the web server -------------------------------------------------------------------

def _timed(app):
    stamps = Path(os.environ[STAMPS])

    async def timed(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/chat/messages/":
            return await app(scope, receive, send)
        first = []

        async def stamped_send(message):
            if (not first and message["type"] == "http.response.body"
                    and b"event: text" in message.get("body", b"")):
                first.append(time.time())
                with stamps.open("a") as out:
                    out.write(json.dumps({"first_text": first[0]}) + "\n")
            await send(message)

        return await app(scope, receive, stamped_send)

    return timed


def __getattr__(name: str):
    """`timed_application`, built on first use, so that importing this module to run the
    benchmark does not set up Django."""
    if name == "timed_application":
        from citewise.asgi import application

        return _timed(application)
    raise AttributeError(name)


# ----- in the browser ----------------------------------------------------------------------

# The first piece of answer text: when it joined the page and the next frame after that.
WATCH_FIRST_PIECE = """() => {
  window.citewiseFirst = null;
  const observer = new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      if (!mutation.target.classList || !mutation.target.classList.contains("live")) continue;
      if (![...mutation.addedNodes].some((n) => n.nodeType === Node.TEXT_NODE)) continue;
      const added = performance.timeOrigin + performance.now();
      observer.disconnect();
      requestAnimationFrame(() => {
        window.citewiseFirst = {added: added, frame: performance.timeOrigin + performance.now()};
      });
      return;
    }
  });
  observer.observe(document.getElementById("messages"), {childList: true, subtree: true});
}"""


def clock_offset(page) -> tuple[float, float]:
    """(page clock - Python clock, uncertainty), in ms: the tightest of 20 readings."""
    best = None
    for _ in range(20):
        before = time.time() * 1000
        page_now = page.evaluate("() => performance.timeOrigin + performance.now()")
        after = time.time() * 1000
        if best is None or after - before < best[1] * 2:
            best = (page_now - (before + after) / 2, (after - before) / 2)
    return best


def page_weight(browser, site_url: str, sign_in) -> dict:
    """Requests and bytes of /chat/, on a first visit (signed in, empty cache) and on a
    reload."""
    signing_in = browser.new_context()
    sign_in(signing_in.new_page())
    session = signing_in.storage_state()  # the cookies only: a new context has no cache
    signing_in.close()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=session)
    page = context.new_page()
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    page.goto(f"{site_url}/chat/", wait_until="networkidle")
    first = list(requests)
    shipped = {"js": 0, "css": 0}
    wire = 0
    files = []
    for request in first:  # bodies can be read only until the page navigates
        kind = {"script": "js", "stylesheet": "css"}.get(request.resource_type)
        if not kind:
            continue
        body = request.response().body()
        zipped = len(gzip.compress(body, compresslevel=9))
        shipped[kind] += zipped
        wire += request.sizes()["responseBodySize"]
        files.append({"url": request.url.removeprefix(site_url), "bytes": len(body),
                      "gzip": zipped, "encoding": request.response().headers.get(
                          "content-encoding", "identity")})
    requests.clear()
    page.goto(f"{site_url}/chat/", wait_until="networkidle")  # following a link to it
    again = list(requests)
    requests.clear()
    page.reload(wait_until="networkidle")
    reload = list(requests)

    def cached(request) -> bool:  # answered from the browser's cache: nothing transferred
        return request.response().status == 200 and request.sizes()["responseBodySize"] <= 0

    def listed(done: list) -> list[str]:
        return [f"{r.url.removeprefix(site_url)} "
                f"{'cache' if cached(r) else r.response().status}" for r in done]

    def served(done: list) -> int:
        return sum(not cached(r) for r in done)

    counted = {"requests_first_load": len(first), "requests_again": len(again),
               "requests_reload": len(reload), "served_first_load": served(first),
               "served_again": served(again), "served_reload": served(reload),
               "first_load": listed(first), "again": listed(again), "reload": listed(reload)}
    context.close()
    return {**counted,
            "gzip_js": shipped["js"], "gzip_css": shipped["css"],
            "gzip_total": shipped["js"] + shipped["css"], "wire_js_css": wire, "files": files}


def time_to_screen(browser, site_url: str, sign_in, questions: int, stamps: Path) -> dict:
    from tests.e2e.chat_page import ask, pick

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page)
    offset, uncertainty = clock_offset(page)
    added, frame = [], []
    for i in range(questions):
        page.goto(f"{site_url}/chat/")
        pick(page, "Security handbook")
        page.evaluate(WATCH_FIRST_PIECE)
        lines_before = len(stamps.read_text().splitlines()) if stamps.exists() else 0
        ask(page, QUESTIONS[i % len(QUESTIONS)])
        seen = page.evaluate("window.citewiseFirst")
        lines = stamps.read_text().splitlines()
        if seen is None or len(lines) != lines_before + 1:
            raise SystemExit(f"question {i}: no streamed text to time ({seen}, {lines[-1:]})")
        server = json.loads(lines[-1])["first_text"] * 1000
        added.append(seen["added"] - offset - server)
        frame.append(seen["frame"] - offset - server)
    context.close()
    return {"questions": questions, "clock_offset_ms": offset,
            "clock_uncertainty_ms": uncertainty, "added_ms": added, "frame_ms": frame}


# ----- the site ----------------------------------------------------------------------------

def start_site(data_dir: Path, stamps: Path) -> tuple[str, list[subprocess.Popen], dict]:
    from tests.e2e.conftest import PASSWORD, _free_port
    from tests.helpers import clean_env

    port = _free_port()
    env = clean_env(CITEWISE_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1",
                    CITEWISE_ADMIN_USER="owner", CITEWISE_ADMIN_PASSWORD=PASSWORD,
                    DJANGO_SETTINGS_MODULE="citewise.settings", **{STAMPS: str(stamps)},
                    PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT)]))
    for command in (["migrate", "--verbosity", "0"], ["ensure_admin"], ["load_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    log_file = (data_dir / "site.log").open("wb")
    children = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True)
                for argv in (
                    [sys.executable, "-m", "celery", "-A", "citewise", "worker", "--queues",
                     "default,ingest", "--concurrency", "1", "--without-gossip",
                     "--without-mingle", "--loglevel", "WARNING"],
                    [sys.executable, "-m", "uvicorn", "benchmarks.chat_page:timed_application",
                     "--host", "127.0.0.1", "--port", str(port), "--no-access-log"])]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 - ours
                break
        except OSError as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"the web server did not start: see {data_dir / 'site.log'}"
                                 ) from error
            time.sleep(0.5)
    populated = subprocess.run([sys.executable, "-m", "tests.e2e.site", "populate", PASSWORD],
                               cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return url, children, json.loads(populated.stdout.strip().splitlines()[-1])


def stop_site(children: list[subprocess.Popen]) -> None:
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


# ----- the report --------------------------------------------------------------------------

def wire_note(weight: dict) -> str:
    if any(f["encoding"] != "identity" for f in weight["files"]):
        return ""
    return (", uncompressed: whitenoise serves compressed copies only of files gathered by "
            "`collectstatic`, which `manage.py serve` does not run")


def requests_lines(weight: dict) -> str:
    visits = (("first visit, empty cache", "first_load"),
              ("visited again (a link to it, seconds later)", "again"), ("reloaded", "reload"))
    return "\n".join(
        f"- {label}: **{weight['requests_' + key]} requests, {weight['served_' + key]} from "
        f"the server** ({', '.join(weight[key])})" for label, key in visits)


def report(weight: dict, timing: dict, command: str, facts: str) -> str:
    from benchmarks.answer_quality import percentile

    def row(name: str, values: list[float]) -> str:
        return (f"| {name} | {percentile(values, 50):.1f} | {percentile(values, 95):.1f} | "
                f"{min(values):.1f} | {max(values):.1f} |")

    verdict = "under" if weight["gzip_total"] < TARGET_KB else "OVER"
    files = "\n".join(f"| `{f['url']}` | {f['bytes']:,} | {f['gzip']:,} | {f['encoding']} |"
                      for f in weight["files"])
    return f"""## Chat page (issue 11)

Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M')}). Machine: {facts}. Browser:
Debian's Chromium, headless, through Playwright; the site on the same machine (uvicorn and
a Celery worker, SQLite), extractive answers.

### First token: server to screen

{timing['questions']} questions to the security handbook of the browser tests, each in a
new conversation. Server time: Citewise's ASGI application hands the answer stream's first
`text` event to uvicorn. Page time: the MutationObserver callback for the first piece of
answer text added to the page ("in the page"), and the animation frame after it, the one
that paints it ("on screen"). Clock offset page - server {timing['clock_offset_ms']:.2f} ms
(± {timing['clock_uncertainty_ms']:.2f} ms: half the round trip of the tightest reading),
subtracted; both read the same system clock, so it is expected near 0, and differences
smaller than the ± are not resolved.

| milliseconds | p50 | p95 | min | max |
|---|---|---|---|---|
{row("in the page", timing["added_ms"])}
{row("on screen (next frame)", timing["frame_ms"])}

### What the chat page ships

JavaScript and CSS of /chat/, gzipped at level 9: **{weight['gzip_total'] / 1024:.1f} KB**
(JavaScript {weight['gzip_js'] / 1024:.1f} KB, CSS {weight['gzip_css'] / 1024:.1f} KB),
{verdict} the 60 KB target. On the wire: {weight['wire_js_css'] / 1024:.1f} KB{wire_note(weight)}.

| file | bytes | gzip -9 | served as |
|---|---|---|---|
{files}

### Requests per page load

/chat/ signed in: requests the page makes, and how many the server answered (the rest
came from the browser's cache; static files are cached for 60 s). Each request: URL and
status, or `cache`.
{requests_lines(weight)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="also print the raw numbers")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args()
    for path in (ROOT, ROOT / "platform"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from playwright.sync_api import sync_playwright

    from benchmarks.answer_quality import command_line, log, machine_facts, write_section
    from tests.e2e.conftest import CHROMIUM, PASSWORD

    data_dir = Path(tempfile.mkdtemp(prefix="citewise-chat-page-"))
    stamps = data_dir / "stamps.jsonl"
    log(f"starting Citewise in {data_dir}")
    url, children, _ = start_site(data_dir, stamps)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

            def sign_in(page):
                page.goto(f"{url}/accounts/login/")
                page.fill("input[name=username]", "alice")
                page.fill("input[name=password]", PASSWORD)
                page.locator("form:has(input[name=password]) [type=submit]").click()
                page.wait_for_url(f"{url}/chat/**")

            log("page weight")
            weight = page_weight(browser, url, sign_in)
            log(f"{args.questions} questions")
            timing = time_to_screen(browser, url, sign_in, args.questions, stamps)
            browser.close()
    finally:
        stop_site(children)
    text = report(weight, timing, command_line("benchmarks/chat_page.py"), machine_facts())
    print(text)
    if args.json:
        print(json.dumps({"weight": weight, "timing": timing}, indent=1))
    if not args.no_write:
        write_section("chat-page", text, ROOT / "benchmarks" / "RESULTS.md")


if __name__ == "__main__":
    main()
