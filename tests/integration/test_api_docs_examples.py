"""docs/api.md stays true: its Python examples run, in the order a reader meets them and
in one namespace (as a reader pasting them into one session would), against a live
server holding the IT handbook the examples ask about. An example that cannot run here
(a server that never returns, say) is marked `<!-- not run: why -->` on the line before
its fence."""

from __future__ import annotations

import contextlib
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import REPO_ROOT
from tests.integration.api_support import new_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

API_DOCS = REPO_ROOT / "docs" / "api.md"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)


def examples() -> list[tuple[int, str]]:
    """(line number, code) of each Python block not marked as not run."""
    text = API_DOCS.read_text(encoding="utf-8")
    return [(text.count("\n", 0, found.start("code")) + 1, found["code"])
            for found in BLOCK.finditer(text) if "not run:" not in found["before"]]


def _run_examples(namespace: dict, printed: io.StringIO) -> None:
    for line, code in examples():
        _run_example(line, code, namespace, printed)


def _run_example(line: int, code: str, namespace: dict, printed: io.StringIO) -> None:
    with contextlib.redirect_stdout(printed):
        try:
            exec(compile(code, f"docs/api.md:{line}", "exec"), namespace)  # noqa: S102
        except Exception as error:
            raise AssertionError(f"the example at docs/api.md:{line} failed: {error!r}\n"
                                 f"{code}") from error


def test_every_python_example_of_the_api_guide_runs(server, celery_worker, owner, kb_a, kb_b,
                                                    tmp_path):
    kb_a.editor_users.add(owner)  # the upload example adds a document, the worker ingests it
    key = new_key(owner, [kb_a], operations=("ask", "search", "documents"))
    namespace = {"BASE": server, "KEY": key, "__name__": "api_docs_example"}
    printed = io.StringIO()
    os.chdir(tmp_path)  # examples that write or read files do it here
    try:
        # On a thread of its own: the MCP example calls asyncio.run, which refuses to
        # start where Playwright keeps a loop running (the main thread, whole suite).
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(_run_examples, namespace, printed).result()
    finally:
        os.chdir(REPO_ROOT)
    assert "90 days" in printed.getvalue()  # the answer the examples print
    assert "Board" not in printed.getvalue()  # nothing of the knowledge base it may not read
