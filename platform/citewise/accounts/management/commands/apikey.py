"""`manage.py apikey create|list|revoke`: API keys for helpdesk bots and other programs.

    apikey create --name helpdesk --kb it-handbook [--kb hr] [--scope ask,search]
                  [--expires 90d] [--owner USERNAME] [--rate-limit 120]
    apikey list
    apikey revoke PREFIX

`create` prints the key once: only its hash is stored.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from citewise.accounts import keys
from citewise.accounts.models import ApiKey
from citewise.knowledge.models import KnowledgeBase


class Command(BaseCommand):
    help = "Create, list or revoke API keys."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a key and print it once.")
        create.add_argument("--name", required=True)
        create.add_argument("--kb", action="append", required=True, metavar="SLUG",
                            help="A knowledge base the key may use (repeat for more).")
        create.add_argument("--scope", default="ask,search",
                            help="Comma-separated: ask, search, documents (default ask,search).")
        create.add_argument("--expires", help="Lifetime such as 90d, 12h or 2w (default never).")
        create.add_argument("--owner", help="The user the key acts for (default: the first "
                                            "superuser).")
        create.add_argument("--rate-limit", type=int, help="Requests per minute.")
        actions.add_parser("list", help="List keys (never their secret).")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("prefix")

    def handle(self, *args, action: str, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, *, name, kb, scope, expires, owner, rate_limit, **_options):
        try:
            operations = keys.parse_operations(scope)
            expires_in = keys.parse_duration(expires) if expires else None
        except ValueError as error:
            raise CommandError(str(error)) from error
        kbs = list(KnowledgeBase.objects.filter(slug__in=kb))
        missing = sorted(set(kb) - {found.slug for found in kbs})
        if missing:
            raise CommandError(f"no knowledge base with slug: {', '.join(missing)}")
        key, plaintext = keys.create_key(owner=self._owner(owner), name=name,
                                         knowledge_bases=kbs, operations=operations,
                                         expires_in=expires_in, rate_limit=rate_limit)
        self.stdout.write(plaintext)
        self.stderr.write(f"Created key {key.prefix} ({name}) for {key.owner.get_username()}. "
                          "Store it now: it cannot be shown again.")

    def _owner(self, username: str | None):
        users = get_user_model().objects.filter(is_active=True)
        found = (users.filter(username=username) if username
                 else users.filter(is_superuser=True).order_by("pk")).first()
        if found is None:
            raise CommandError(f"no active user {username!r}" if username else
                               "no superuser to own the key; pass --owner USERNAME")
        return found

    def _list(self, **_options):
        rows = ApiKey.objects.select_related("owner").prefetch_related("knowledge_bases")
        for key in rows.order_by("-created"):
            state = ("revoked" if key.revoked else "expired" if key.has_expired else "active")
            slugs = ",".join(sorted(kb.slug for kb in key.knowledge_bases.all()))
            used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
            self.stdout.write(f"{key.prefix}  {state:<7}  {key.name}  owner={key.owner}  "
                              f"kb={slugs}  scope={','.join(key.operations)}  "
                              f"rate={key.rate_limit}/min  last_used={used}")

    def _revoke(self, *, prefix, **_options):
        key = keys.revoke(prefix)
        if key is None:
            raise CommandError(f"no API key with prefix {prefix!r}")
        self.stdout.write(f"Revoked {key.prefix} ({key.name}).")
