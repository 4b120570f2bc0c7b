"""Guessing passwords at the sign-in page (django-axes): after CITEWISE_SIGNIN_FAILURE_LIMIT
failures with one user name from one address, that pair is refused, right password or
not, with a message in the reader's language, a 429 and Retry-After, and an audit event.
Another address, or another name from the same address, is not held up. An admin lifts
the lockout in Django's admin or with `manage.py axes_reset_username`."""

from __future__ import annotations

import re

import httpx
import pytest
from bs4 import BeautifulSoup
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.test import Client

from citewise.audit.models import Action, AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # tests/factories.make_user
ATTACKER = "198.51.100.23"
LOCKED_EN = "Too many failed sign-ins with this user name from your address"
LOCKED_KO = "이 주소에서 이 사용자 이름으로 로그인에 너무 여러 번 실패했습니다"


def sign_in(client: Client, username: str, password: str, path: str = "/accounts/login/"):
    return client.post(path, {"username": username, "password": password})


def signed_in_as(client: Client) -> str | None:
    response = client.get("/chat/")
    return response.wsgi_request.user.get_username() if response.status_code == 200 else None


def lock_out(client: Client, username: str) -> list[int]:
    """The statuses of CITEWISE_SIGNIN_FAILURE_LIMIT failed sign-ins."""
    return [sign_in(client, username, f"guess-{n}").status_code
            for n in range(settings.AXES_FAILURE_LIMIT)]


def alert_of(response) -> str:
    page = BeautifulSoup(response.content, "html.parser")
    alert = page.select_one("[role=alert]")
    return " ".join(alert.get_text(" ", strip=True).split()) if alert else ""


def test_the_limit_locks_the_name_at_that_address_even_with_the_right_password():
    make_user("kim")
    attacker = Client(REMOTE_ADDR=ATTACKER)
    statuses = lock_out(attacker, "kim")
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    refused = sign_in(attacker, "kim", PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert LOCKED_EN in alert_of(refused)
    assert "Try again in 15 minutes, or ask your administrator to unlock it." in alert_of(refused)
    assert BeautifulSoup(refused.content, "html.parser").select_one(
        "[data-code=signin_locked_out]") is not None
    assert signed_in_as(attacker) is None
    # The form keeps the name typed, never the password.
    assert b'value="kim"' in refused.content and PASSWORD.encode() not in refused.content

    # Django's admin sign-in is the same door to the same accounts.
    assert sign_in(attacker, "kim", PASSWORD, "/admin/login/?next=/admin/").status_code == 429

    # Kim at her own desk, and another name from the attacker's address, are let in.
    desk = Client(REMOTE_ADDR="192.0.2.10")
    assert sign_in(desk, "kim", PASSWORD).status_code == 302
    assert signed_in_as(desk) == "kim"
    make_user("lee")
    assert sign_in(attacker, "lee", PASSWORD).status_code == 302


def test_the_lockout_message_is_in_korean_for_a_korean_reader():
    make_user("park")
    attacker = Client(REMOTE_ADDR=ATTACKER, HTTP_ACCEPT_LANGUAGE="ko")
    lock_out(attacker, "park")
    refused = sign_in(attacker, "park", PASSWORD)
    assert refused.status_code == 429
    assert LOCKED_KO in alert_of(refused)
    assert "15분 뒤에 다시 시도하거나 관리자에게 잠금 해제를 요청하세요" in alert_of(refused)


def test_a_lockout_is_in_the_audit_log_with_the_name_and_address():
    make_user("choi")
    lock_out(Client(REMOTE_ADDR=ATTACKER), "choi")
    locked = AuditEvent.objects.filter(action=Action.SIGN_IN_LOCKED_OUT)
    assert [(event.actor, event.address) for event in locked] == [("choi", ATTACKER)]
    assert AuditEvent.objects.filter(action=Action.SIGN_IN_FAILED, actor="choi").count() == (
        settings.AXES_FAILURE_LIMIT)


def test_an_admin_unlocks_in_the_admin_and_a_command_unlocks_too():
    make_user("jung")
    attacker = Client(REMOTE_ADDR=ATTACKER)
    lock_out(attacker, "jung")
    admin = Client()
    admin.force_login(make_user("root", superuser=True))
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and b"jung" in listing.content
    attempt_id = listing.context["cl"].result_list[0].pk
    korean = admin.get("/admin/axes/accessattempt/", HTTP_ACCEPT_LANGUAGE="ko")
    assert "접속 시도" in korean.content.decode()  # axes ships no Korean; ours covers it
    deleted = admin.post(f"/admin/axes/accessattempt/{attempt_id}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert sign_in(attacker, "jung", PASSWORD).status_code == 302

    attacker.post("/accounts/logout/")
    lock_out(attacker, "jung")
    assert sign_in(attacker, "jung", PASSWORD).status_code == 429
    call_command("axes_reset_username", "jung")
    assert sign_in(attacker, "jung", PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_count():
    make_user("han")
    client = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(2):
        for n in range(settings.AXES_FAILURE_LIMIT - 1):
            assert sign_in(client, "han", f"typo-{n}").status_code == 200
        assert sign_in(client, "han", PASSWORD).status_code == 302
        client.post("/accounts/logout/")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_lockout_holds_under_the_asgi_server(server):
    """uvicorn runs the middleware asynchronously, a path of its own in axes."""
    user = make_user("seo")
    # The server runs the product's settings, whose hashers omit the tests' MD5.
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "lockout")
    user.save()
    with httpx.Client(base_url=server, timeout=60) as browser:
        def attempt(password: str) -> httpx.Response:
            page = browser.get("/accounts/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            return browser.post("/accounts/login/", data={
                "username": "seo", "password": password, "csrfmiddlewaretoken": token[1]})

        statuses = [attempt(f"guess-{n}").status_code
                    for n in range(settings.AXES_FAILURE_LIMIT)]
        assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
        refused = attempt(PASSWORD)
    assert refused.status_code == 429 and LOCKED_EN in refused.text
    assert int(refused.headers["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
