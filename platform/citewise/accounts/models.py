"""API keys: how helpdesk bots and other programs sign in to the REST API.

A key is stored hashed (djangorestframework-api-key: only its visible prefix and a hash
are kept, so a key shown once can never be read back). It acts for its owner, and only
within its scopes: the knowledge bases it names and the operations it allows. Revoking the
owner's access to a knowledge base therefore cuts the key's too
(citewise.knowledge.permissions).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from citewise.knowledge.models import KnowledgeBase

# last_used_at is written at most this often per key: one UPDATE a minute, not per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Operation(models.TextChoices):
    ASK = "ask", _("Ask")
    SEARCH = "search", _("Search")
    DOCUMENTS = "documents", _("Manage documents")


def default_operations() -> list[str]:
    return [Operation.ASK, Operation.SEARCH]


def default_rate_limit() -> int:
    return settings.API_KEY_RATE_LIMIT


class ApiKey(AbstractAPIKey):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys",
        help_text=_("The key reads only what this user may read (an admin, or a service "
                    "user made for the bot)."))
    knowledge_bases = models.ManyToManyField(
        KnowledgeBase, related_name="api_keys",
        help_text=_("The knowledge bases the key may use."))
    operations = models.JSONField(
        default=default_operations,
        help_text=_("What the key may do: ask, search, documents."))
    rate_limit = models.PositiveIntegerField(
        default=default_rate_limit, help_text=_("Requests per minute."))
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"  # the prefix tells two keys of one name apart

    @property
    def audit_id(self) -> str:
        """The key's id in the audit log: its prefix (the primary key holds the secret's
        hash, which has no business there)."""
        return self.prefix

    def allows(self, operation: str) -> bool:
        return operation in self.operations

    def touch(self) -> None:
        """Record a use, at most once per LAST_USED_RESOLUTION (a plain UPDATE, so
        concurrent requests cannot overwrite the key's other fields)."""
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < LAST_USED_RESOLUTION:
            return
        type(self).objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
