"""The shell every page shares: signing in and out, passwords, language, and the CSP."""

from __future__ import annotations

from html.parser import HTMLParser
from io import BytesIO

import pytest

from citewise.knowledge.models import Chunk
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest
from citewise.knowledge.services import add_document
from tests.factories import make_kb, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # tests.factories.make_user


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_signing_in_opens_the_chat_and_home_leads_there(client):
    make_user("kim")
    response = sign_in(client, "kim")
    assert response.status_code == 302 and response["Location"] == "/chat/"
    assert client.get("/")["Location"] == "/chat/"
    page = client.get("/chat/").content.decode()
    assert "kim" in page and "Sign out" in page


def test_a_visitor_sees_the_home_page_and_must_sign_in_for_the_chat(client):
    home = client.get("/")
    assert home.status_code == 200 and 'href="/accounts/login/"' in home.content.decode()
    chat = client.get("/chat/")
    assert chat.status_code == 302 and chat["Location"] == "/accounts/login/?next=/chat/"
    # After signing in from there, the person lands where they were going.
    make_user("kim")
    response = client.post("/accounts/login/?next=/chat/",
                           {"username": "kim", "password": PASSWORD, "next": "/chat/"})
    assert response["Location"] == "/chat/"


def test_a_wrong_password_is_refused_with_a_message(client):
    make_user("kim")
    response = sign_in(client, "kim", "not-the-password")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get("/chat/").status_code == 302


def test_signing_out_takes_a_post_and_ends_the_session(client):
    make_user("kim")
    sign_in(client, "kim")
    assert client.get("/accounts/logout/").status_code == 405  # a link cannot sign you out
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/chat/").status_code == 302


def test_changing_the_password(client):
    make_user("kim")
    sign_in(client, "kim")
    refused = client.post("/accounts/password/", {
        "old_password": "wrong", "new_password1": "a-new-long-secret",
        "new_password2": "a-new-long-secret"})
    assert refused.status_code == 200 and 'role="alert"' in refused.content.decode()
    changed = client.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": "a-new-long-secret",
        "new_password2": "a-new-long-secret"})
    assert changed["Location"] == "/accounts/password/done/"
    assert "Password changed" in client.get("/accounts/password/done/").content.decode()
    client.post("/accounts/logout/")
    assert sign_in(client, "kim", PASSWORD).status_code == 200  # the old one no longer works
    assert sign_in(client, "kim", "a-new-long-secret")["Location"] == "/chat/"


def test_only_staff_see_the_administration_link(client):
    client.force_login(make_user("kim"))
    assert "/admin/" not in client.get("/chat/").content.decode()
    client.force_login(make_user("root", superuser=True))
    assert 'href="/admin/"' in client.get("/chat/").content.decode()


def test_the_browser_language_comes_first_and_a_chosen_one_is_remembered(client):
    korean = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "Citewise 로그인" in korean and "사용자 이름" in korean and "비밀번호" in korean
    assert '<html lang="ko">' in korean
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "Sign in to Citewise" in english and "Username" in english
    assert "로그인" not in english.replace('lang="ko">한국어', "")


class PageScripts(HTMLParser):
    """What a page would run or style inline: script bodies, on* handlers, style attributes."""

    def __init__(self):
        super().__init__()
        self.inline: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        self.inline += [f"{tag} {name}" for name in names
                        if name.startswith("on") or name == "style"]
        if tag == "script":
            self.scripts.append(names.get("src") or "")
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")

    def handle_endtag(self, tag):
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(f"script body {data[:40]!r}")


@pytest.fixture
def cited_passage():
    kb = make_kb("finance")
    document = add_document(SYSTEM, kb, BytesIO(b"# Travel\n\nThe daily allowance is 80,000 won."),
                            original_name="travel.md", enqueue=False).document
    ingest(document.pk)
    return Chunk.objects.get(document=document)


def test_every_page_has_a_csp_without_inline_scripts(client, cited_passage):
    user = make_user("kim", superuser=True)
    cited_passage.knowledge_base.reader_users.add(user)
    pages = {"/": None, "/accounts/login/": None}
    for path in pages:
        pages[path] = client.get(path)
    client.force_login(user)
    for path in ("/chat/", "/accounts/password/", "/accounts/password/done/",
                 f"/sources/{cited_passage.pk}/"):
        pages[path] = client.get(path)
    for path, response in pages.items():
        assert response.status_code == 200, path
        policy = dict(directive.strip().split(" ", 1)
                      for directive in response["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'", path
        assert policy["style-src"] == "'self'", path
        assert (policy["object-src"], policy["base-uri"], policy["frame-ancestors"]) == (
            "'none'", "'none'", "'none'"), path
        scripts = PageScripts()
        scripts.feed(response.content.decode())
        assert scripts.inline == [], path
        assert all(src.startswith("/static/") for src in scripts.scripts), path
    assert pages[f"/sources/{cited_passage.pk}/"].content.decode().count("frontend/source.js") == 1


def test_the_original_file_keeps_its_own_sandbox_policy(client, cited_passage):
    user = make_user("kim")
    cited_passage.knowledge_base.reader_users.add(user)
    client.force_login(user)
    response = client.get(f"/documents/{cited_passage.document_id}/original")
    assert response["Content-Security-Policy"] == "sandbox"
