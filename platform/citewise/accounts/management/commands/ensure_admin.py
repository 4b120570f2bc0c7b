"""`manage.py ensure_admin`: make sure someone can sign in to a new installation.

Creates the account named by CITEWISE_ADMIN_USER (default "admin") when no superuser
exists. The password is CITEWISE_ADMIN_PASSWORD, or one generated and printed once
(it is not stored anywhere in clear). Does nothing when a superuser exists, so running
it at every start is safe.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account if no superuser exists."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("Admin account: already set up.")
            return
        username = settings.BOOTSTRAP_ADMIN_USER
        password = settings.BOOTSTRAP_ADMIN_PASSWORD
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        users.create_superuser(username, settings.BOOTSTRAP_ADMIN_EMAIL, password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"Created admin account {username!r} with password {password}\n"
                "This password is shown only once: note it now, or set "
                "CITEWISE_ADMIN_PASSWORD before the first start."
            ))
        else:
            self.stdout.write(f"Created admin account {username!r} (password as configured).")
