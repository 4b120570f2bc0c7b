"""Django's {# ... #} comment ends at the end of its line: one spread over two lines is
printed on the page (the chat showed a template's comment above every answer)."""

from __future__ import annotations

import re

from tests.helpers import REPO_ROOT

UNCLOSED = re.compile(r"\{#(?![^\n]*#\})")


def test_no_template_comment_spans_lines():
    templates = [p for root in ("frontend", "platform") for p in
                 (REPO_ROOT / root).rglob("templates/**/*.html")]
    assert templates
    unclosed = [f"{path.relative_to(REPO_ROOT)}:{text[:match.start()].count(chr(10)) + 1}"
                for path in templates
                for text in [path.read_text(encoding="utf-8")]
                for match in UNCLOSED.finditer(text)]
    assert not unclosed, f"use {{% comment %}} for comments over several lines: {unclosed}"
