"""Security headers and cookie flags on real responses of every door, from a live uvicorn
server set up as behind a TLS proxy (CITEWISE_BEHIND_TLS_PROXY, CITEWISE_SECURE_COOKIES):
HTML pages (sign-in, chat, source viewer, console, Django's admin), the API's JSON, the
SSE streams (the chat page's and the API's), static files, /metrics and /readyz.

Every response: nosniff, a same-origin referrer policy, Cross-Origin-Opener-Policy, and
Strict-Transport-Security when (and only when) the request came over HTTPS. Everything
Django renders (all but static files, which no browser frames or runs as a page) also
denies framing twice (X-Frame-Options and CSP frame-ancestors) and carries the CSP
without inline script. Cookies: HttpOnly, Secure, SameSite=Lax."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.integration.api_support import new_key
from tests.integration.live_server import start_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "pw-for-tests"  # tests/factories.make_user
HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture
def tls_server():
    yield from start_server(CITEWISE_BEHIND_TLS_PROXY="true", CITEWISE_SECURE_COOKIES="true")


def assert_hardened(response: httpx.Response, *, rendered: bool = True,
                    https: bool = True) -> None:
    where = f"{response.request.method} {response.request.url.path}"
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff", where
    assert headers["Referrer-Policy"] == "same-origin", where
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin", where
    if https:
        assert headers["Strict-Transport-Security"] == "max-age=31536000", where
    else:
        assert "Strict-Transport-Security" not in headers, where
    if rendered:
        assert headers["X-Frame-Options"] == "DENY", where
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, where
        assert "unsafe-inline" not in policy, where


def cookies_set(response: httpx.Response) -> dict[str, str]:
    """name -> the whole Set-Cookie line, lower-cased."""
    found = {}
    for line in response.headers.get_list("set-cookie"):
        name = line.split("=", 1)[0]
        found[name] = line.lower()
    return found


def cookie_value(response: httpx.Response, name: str) -> str:
    for line in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie(line)
        if name in cookie:
            return cookie[name].value
    raise AssertionError(f"no {name} cookie set")


def origin(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/").replace("http://", "https://")


def sign_in(client: httpx.Client, username: str) -> dict[str, str]:
    """Signs in through the form over "HTTPS"; returns the cookies set on the way."""
    page = client.get("/accounts/login/", headers=HTTPS)
    assert_hardened(page)
    set_cookies = cookies_set(page)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    csrf_cookie = cookie_value(page, "csrftoken")
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    signed = client.post("/accounts/login/", data=form, headers={
        **HTTPS, "Origin": origin(client), "Cookie": f"csrftoken={csrf_cookie}"})
    assert signed.status_code == 302, signed.text
    assert_hardened(signed)
    set_cookies.update(cookies_set(signed))
    session = cookie_value(signed, "sessionid")
    # Secure cookies are not sent to http:// by httpx: the browser's part, done by hand.
    client.headers["Cookie"] = f"sessionid={session}; csrftoken={csrf_cookie}"
    return set_cookies


def test_every_door_sends_the_security_headers_and_flags_its_cookies(tls_server, owner,
                                                                        kb_a):
    owner.is_superuser = owner.is_staff = True
    # The server runs the product's settings, whose hashers do not include the tests' MD5.
    owner.password = PBKDF2PasswordHasher().encode(PASSWORD, "securityheaders")
    owner.save()
    chunk = kb_a.documents.get().chunks.first()
    with httpx.Client(base_url=tls_server, timeout=120) as browser:
        cookies = sign_in(browser, owner.username)
        for name in ("csrftoken", "sessionid"):
            for flag in ("httponly", "secure", "samesite=lax"):
                assert flag in cookies[name], (name, cookies[name])
        language = browser.post("/i18n/setlang/", data={"language": "ko", "next": "/chat/"},
                                headers={**HTTPS, "Origin": origin(browser), "X-CSRFToken":
                                         browser.headers["Cookie"].split("csrftoken=")[1]})
        for flag in ("httponly", "secure", "samesite=lax"):
            assert flag in cookies_set(language)["django_language"], flag

        for path in ("/chat/", f"/sources/{chunk.pk}/", "/console/",
                     f"/console/knowledge-bases/{kb_a.slug}/documents/", "/admin/",
                     "/admin/knowledge/knowledgebase/", "/readyz", "/metrics"):
            response = browser.get(path, headers=HTTPS)
            assert response.status_code in (200, 503), (path, response.status_code)
            assert_hardened(response)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                          browser.get("/chat/", headers=HTTPS).text).group(1)
        with browser.stream("POST", "/chat/messages/", data={
                "question": "How often do passwords expire?", "knowledge_base": str(kb_a.pk)},
                headers={**HTTPS, "Origin": origin(browser), "X-CSRFToken": token,
                         "Accept": "text/event-stream"}) as chat_stream:
            assert chat_stream.headers["content-type"].startswith("text/event-stream")
            assert_hardened(chat_stream)
            assert "90 days" in "".join(chat_stream.iter_text())
        static = browser.get("/static/frontend/citewise.css", headers=HTTPS)
        assert static.status_code == 200
        assert_hardened(static, rendered=False)
        # Over plain HTTP (no TLS proxy in front), no HSTS: it would be ignored or, on a
        # name later served over HTTPS, lock browsers out of plain HTTP by surprise.
        assert_hardened(browser.get("/accounts/login/"), https=False)

    key = {"Authorization": f"Bearer {new_key(owner, [kb_a])}", **HTTPS}
    with httpx.Client(base_url=tls_server, headers=key, timeout=120) as bot:
        listed = bot.get("/api/v1/knowledge-bases")
        assert listed.status_code == 200 and listed.headers["content-type"].startswith(
            "application/json")
        assert_hardened(listed)
        problem = bot.get("/api/v1/knowledge-bases/nothing-here")
        assert problem.status_code == 404
        assert_hardened(problem)
        with bot.stream("POST", "/api/v1/ask", json={"question": "How often do passwords "
                        "expire?", "stream": True}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert_hardened(stream)
            assert "90 days" in "".join(stream.iter_text())
        models = bot.get("/v1/models")
        assert models.status_code == 200
        assert_hardened(models)
