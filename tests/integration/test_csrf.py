"""Cross-site request forgery: every address of the web doors (chat, console, sign-in and
account pages, source viewer, language switcher, Django's admin), taken from the URL
resolver so that a new one cannot slip past, refuses a POST, PUT, PATCH or DELETE from a
signed-in browser that carries no CSRF token (403, Django's CSRF check) and changes
nothing in the database.

The only addresses exempt from the check are the API's (/api/ and /v1/): their callers
are programs that authenticate with an API key in the Authorization header, which a
browser never adds on its own to a cross-site request, and they do not accept the
session cookie at all (a signed-in browser gets 401 there). /mcp is served outside
Django (citewise/asgi.py) and likewise takes keys only (tests/integration/test_api_mcp.py).
A new exempt address anywhere else fails this test until it is classified here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authentication import SessionAuthentication

from citewise.api.authentication import BearerKeyAuthentication
from citewise.chat.models import Conversation, Feedback, Message, Role
from tests.factories import load_document, make_kb, make_user

pytestmark = pytest.mark.django_db

UNSAFE_METHODS = ("post", "put", "patch", "delete")
# Programs' doors, with API keys (see the module's docstring).
KEY_ONLY_PREFIXES = ("api/", "v1/")


def routes(patterns=None, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(route, view) for every address Django serves, admin included."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            yield prefix + str(pattern.pattern), pattern.callback


@pytest.fixture
def site():
    """A superuser who may do everything, and one of each thing the forms act on."""
    admin = make_user("root", superuser=True)
    kb = make_kb("manuals")
    kb.reader_users.add(admin)
    document = load_document(kb, "vpn.md", "# VPN\n\nThe VPN gateway is vpn.example.com.\n")
    conversation = Conversation.objects.create(user=admin, title="VPN")
    conversation.knowledge_bases.add(kb)
    Message.objects.create(conversation=conversation, role=Role.USER, text="VPN?")
    answer = Message.objects.create(conversation=conversation, role=Role.ASSISTANT,
                                    text="vpn.example.com")
    Feedback.objects.create(message=answer, user=admin, rating="up", comment="thanks")
    values = {"slug": kb.slug, "conversation_id": conversation.pk, "message_id": answer.pk,
              "chunk_id": document.chunks.first().pk, "document_id": document.pk,
              "page": 1, "report": "usage", "app_label": "knowledge", "pk": 1,
              "content_type_id": 1, "object_id": 1, "path": "x", "url": "x", "model": "x"}
    return admin, values


def concrete(route: str, values: dict) -> str:
    """The route with each parameter filled in: admin object ids with a row of that
    admin's model (admin/<app>/<model>/<object_id>/...), the rest from `values`."""
    admin_model = re.match(r"admin/(\w+)/(\w+)/", route)

    def value(name: str) -> str:
        if name in ("object_id", "id") and admin_model:
            model = apps.get_model(*admin_model.groups())
            row = model._default_manager.order_by("pk").first()
            return str(row.pk if row else 1)
        return str(values[name])

    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1)), route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: value(m.group(1)), route)
    return "/" + route.replace("^", "").replace("$", "")


def snapshot() -> dict[str, list]:
    """Every row of every table but the sessions'."""
    return {model._meta.label: list(model._default_manager.order_by("pk").values())
            for model in apps.get_models() if model._meta.label != "sessions.Session"}


def test_every_browser_form_refuses_a_request_without_a_csrf_token(site):
    admin, values = site
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    before = snapshot()
    checked, exempt = [], []
    for route, view in routes():
        if getattr(view, "csrf_exempt", False):
            exempt.append(route)
            continue
        url = concrete(route, values)
        for method in UNSAFE_METHODS:
            response = getattr(browser, method)(url)
            assert response.status_code == 403, (method, url, response.status_code)
            assert b"CSRF verification failed" in response.content, (method, url)
        checked.append(route)
    assert snapshot() == before
    # The walk reached every door (a broken walk would pass vacuously).
    for door in ("chat/c/<int:conversation_id>/delete", "console/knowledge-bases/<str:slug>/"
                 "delete/", "accounts/login/", "accounts/password/", "i18n/setlang/",
                 "sources/<int:chunk_id>/", "admin/login/",
                 "admin/knowledge/knowledgebase/<path:object_id>/delete/"):
        assert door in checked, door
    unclassified = [route for route in exempt if not route.startswith(KEY_ONLY_PREFIXES)]
    assert unclassified == [], f"CSRF-exempt outside the API; classify them: {unclassified}"


def test_the_same_request_with_its_token_does_what_it_says(site):
    """The 403s above are the CSRF check's: with the page's token, the form works."""
    admin, values = site
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    page = browser.get("/chat/")
    token = page.cookies["csrftoken"].value
    deleted = browser.post(f"/chat/c/{values['conversation_id']}/delete",
                           HTTP_X_CSRFTOKEN=token)
    assert deleted.status_code in (200, 204, 302), deleted.status_code
    assert not Conversation.objects.filter(pk=values["conversation_id"]).exists()


def test_the_exempt_api_takes_keys_only_never_the_session_cookie(site):
    admin, _values = site
    for route, view in routes():
        cls = getattr(view, "cls", None)
        if route.startswith(KEY_ONLY_PREFIXES) and cls is not None:
            classes = list(getattr(cls, "authentication_classes", []))
            assert SessionAuthentication not in classes, route
            assert classes in ([BearerKeyAuthentication], []), (route, classes)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    for url in ("/api/v1/ask", "/v1/chat/completions", "/api/v1/documents"):
        assert browser.post(url, {}, content_type="application/json").status_code == 401, url
