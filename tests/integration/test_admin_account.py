"""The first admin account: created once, never overwritten."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def ensure_admin() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_generated_password_is_printed_once_and_signs_in(settings):
    settings.BOOTSTRAP_ADMIN_PASSWORD = None
    first = ensure_admin()
    password = re.search(r"with password (\S+)", first).group(1)
    assert authenticate(username="admin", password=password) is not None
    second = ensure_admin()
    assert "already set up" in second and password not in second
    assert get_user_model().objects.count() == 1


def test_password_from_the_environment_is_used_and_not_printed(settings):
    settings.BOOTSTRAP_ADMIN_USER = "it-ops"
    settings.BOOTSTRAP_ADMIN_PASSWORD = "correct horse battery"
    output = ensure_admin()
    assert "correct horse battery" not in output
    user = authenticate(username="it-ops", password="correct horse battery")
    assert user is not None and user.is_superuser and user.is_staff
