"""API keys: the command prints a key once and stores only its hash; a revoked or expired
key, or none, gets 401 as problem details; the admin shows a new key once."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from citewise.accounts.models import ApiKey
from tests.factories import make_user
from tests.integration.api_support import ApiClient, assert_problem, new_key

pytestmark = pytest.mark.django_db(transaction=True)
KBS = "/api/v1/knowledge-bases"


def apikey(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("apikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def every_text_in_the_database() -> str:
    """Every value of every table, as text: where a leaked key would be."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from introspection)
            dump.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(dump)


def test_the_command_prints_the_key_once_and_stores_only_its_hash(owner, kb_a):
    printed, note = apikey("create", "--name", "helpdesk", "--kb", "it-handbook",
                           "--scope", "search", "--expires", "90d",
                           "--owner", "helpdesk-owner")
    plaintext = printed.strip()
    key = ApiKey.objects.get()
    assert plaintext.startswith(key.prefix + ".") and "cannot be shown again" in note
    assert key.owner == owner and key.operations == ["search"]
    assert list(key.knowledge_bases.all()) == [kb_a]
    assert timedelta(days=89) < key.expiry_date - timezone.now() <= timedelta(days=90)
    secret = plaintext.split(".", 1)[1]
    assert secret not in every_text_in_the_database()
    assert ApiClient(plaintext).get(KBS).status_code == 200
    listing, _ = apikey("list")
    assert key.prefix in listing and "active" in listing and secret not in listing


def test_the_command_refuses_unknown_knowledge_bases_and_scopes(owner):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no knowledge base with slug: nope"):
        apikey("create", "--name", "x", "--kb", "nope", "--owner", "helpdesk-owner")
    with pytest.raises(CommandError, match="scopes are"):
        apikey("create", "--name", "x", "--kb", "board", "--scope", "delete",
               "--owner", "helpdesk-owner")


def test_a_revoked_key_gets_401(owner, kb_a):
    plaintext = new_key(owner, [kb_a])
    assert ApiClient(plaintext).get(KBS).status_code == 200
    printed, _ = apikey("revoke", plaintext.split(".")[0])
    assert "Revoked" in printed
    assert_problem(ApiClient(plaintext).get(KBS), 401, "key_revoked")
    assert "revoked" in apikey("list")[0]


def test_an_expired_key_gets_401(owner, kb_a):
    plaintext = new_key(owner, [kb_a])
    ApiKey.objects.update(expiry_date=timezone.now() - timedelta(seconds=1))
    assert_problem(ApiClient(plaintext).get(KBS), 401, "key_expired")


def test_no_key_or_a_wrong_one_gets_401_with_a_bearer_challenge(owner, kb_a):
    plaintext = new_key(owner, [kb_a])
    missing = ApiClient(None).get(KBS)
    assert_problem(missing, 401, "not_authenticated")
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = plaintext[:-1] + ("x" if plaintext[-1] != "x" else "y")
    assert_problem(ApiClient(wrong).get(KBS), 401, "key_invalid")
    assert_problem(ApiClient("nonsense").get(KBS), 401, "key_invalid")


def test_a_key_stops_working_when_its_owner_is_deactivated(owner, kb_a):
    plaintext = new_key(owner, [kb_a])
    owner.is_active = False
    owner.save()
    assert_problem(ApiClient(plaintext).get(KBS), 401, "key_revoked")


def test_last_used_is_recorded_at_most_once_a_minute(owner, kb_a):
    plaintext = new_key(owner, [kb_a])
    assert ApiKey.objects.get().last_used_at is None
    ApiClient(plaintext).get(KBS)
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    ApiClient(plaintext).get(KBS)
    assert ApiKey.objects.get().last_used_at == first


def test_the_admin_shows_a_new_key_once_and_revokes(owner, kb_a):
    admin = make_user("root", superuser=True)
    client = Client()
    client.force_login(admin)
    form = client.get("/admin/accounts/apikey/add/").content.decode()
    # Operations are checkboxes (ask and search ticked), the owner is the admin by
    # default, and a new key has no "revoked" box.
    assert re.search(r'name="operations" value="ask"[^>]*checked', form)
    assert not re.search(r'name="operations" value="documents"[^>]*checked', form)
    assert f'<option value="{admin.pk}" selected>' in form and 'name="revoked"' not in form
    response = client.post("/admin/accounts/apikey/add/", {
        "name": "portal", "owner": owner.pk, "knowledge_bases": [kb_a.pk],
        "operations": ["ask"], "rate_limit": 30}, follow=True)
    key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    plaintext = next(word.rstrip(".") for m in shown for word in m.split()
                     if word.startswith(key.prefix + "."))
    assert ApiClient(plaintext).get(KBS).status_code == 200
    assert plaintext not in client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    client.post("/admin/accounts/apikey/", {"action": "revoke_keys",
                                            "_selected_action": [key.pk]})
    assert_problem(ApiClient(plaintext).get(KBS), 401, "key_revoked")
