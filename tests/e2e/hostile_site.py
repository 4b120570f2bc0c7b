"""The XSS test's own corner of the browser tests' site (tests/e2e/test_xss.py): a user,
a knowledge base and a document whose every shown field is an attack, added through the
citewise services to the running Citewise (its worker ingests the document).

`python -m tests.e2e.hostile_site PASSWORD` (with the server's environment) prints one
JSON line: the ids made. The shared users (alice, bob, minji) are left alone.

Each payload, if it ever ran, would set window.__xss to the name of where it came from;
the page's Content-Security-Policy would also block it and say so on the console.
"""

from __future__ import annotations

import io
import json
import sys

USER = "xss-admin"
KB_NAME = "Lockers <script>window.__xss='kb'</script>"
TITLE = "Locker rules \"><svg onload=\"window.__xss='title'\">"
FILE_NAME = "<img src=x onerror=\"window.__xss='file'\">lockers.txt"
TEXT_PAYLOAD = "<script>window.__xss='text'</script>"
LINK_PAYLOAD = "[the locker map](javascript:window.__xss='mdlink')"
DOCUMENT = f"""Locker rules

Lockers are emptied every Friday at noon {TEXT_PAYLOAD} by the facilities team.

Keys for lockers are handed out at reception <img src=x onerror="window.__xss='img'">
against a signature; see {LINK_PAYLOAD} and "><svg onload="window.__xss='svg'"> for
where the lockers stand.
"""
QUESTION = "When are lockers emptied? <img src=x onerror=\"window.__xss='question'\">"
# Not a word of the document (window, onload...): the documents must not answer it.
UNANSWERED = "Where does the zeppelin <details open ontoggle=alert(7)>land</details>?"
COMMENT = "<script>window.__xss='feedback'</script> [more](javascript:window.__xss='c')"


def populate(password: str) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.services import add_document, create_knowledge_base
    from tests.e2e.site import wait_indexed

    user = get_user_model().objects.create_superuser(USER, f"{USER}@example.com", password)
    kb = create_knowledge_base(SYSTEM, name=KB_NAME, slug="lockers", language="en")
    kb.reader_users.add(user)
    document = add_document(SYSTEM, kb, io.BytesIO(DOCUMENT.encode()),
                            original_name=FILE_NAME, title=TITLE).document
    wait_indexed(kb.pk)
    return {"knowledge_base": kb.slug, "document": document.pk}


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")
    sys.path[:0] = ["platform", "."]
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.e2e.hostile_site PASSWORD")
    print(json.dumps(populate(sys.argv[1])))
