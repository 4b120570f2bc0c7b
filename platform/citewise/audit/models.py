"""The audit log: who did what to which knowledge base, document, permission or key, when,
from which address, with the values before and after a change. Append-only from the
application: rows are written by citewise.audit.record() and removed only by the
retention task (AuditEvent.objects.expire)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    SIGN_IN = "sign_in", _("Signed in")
    SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
    SIGN_IN_LOCKED_OUT = "sign_in_locked_out", _("Sign-in locked out")
    SIGN_OUT = "sign_out", _("Signed out")
    KNOWLEDGE_BASE_CREATED = "kb_created", _("Knowledge base created")
    KNOWLEDGE_BASE_CHANGED = "kb_changed", _("Knowledge base settings changed")
    KNOWLEDGE_BASE_DELETED = "kb_deleted", _("Knowledge base deleted")
    ACCESS_CHANGED = "access_changed", _("Access changed")
    DOCUMENT_UPLOADED = "document_uploaded", _("Document uploaded")
    DOCUMENT_DELETED = "document_deleted", _("Document deleted")
    DOCUMENT_RETRIED = "document_retried", _("Document ingestion retried")
    REINDEXED = "reindexed", _("Re-indexing started")
    ACCOUNT_CREATED = "account_created", _("Account created")
    ROLE_CHANGED = "role_changed", _("Role changed")
    API_KEY_CREATED = "api_key_created", _("API key created")
    API_KEY_REVOKED = "api_key_revoked", _("API key revoked")


class Detail(models.TextChoices):
    """Codes kept in AuditEvent.detail, shown translated; other details are plain text."""

    DUPLICATE = "duplicate", _("Same content as this document: not added again")
    NEW_VERSION = "new_version", _("New version of a document")
    TOO_LARGE = "too_large", _("Too large: not stored")


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("audit events are append-only")

    def delete(self):
        raise TypeError("audit events are append-only; expire() applies the retention")

    def expire(self, before: datetime) -> int:
        """Delete events older than `before` (the retention task); returns how many."""
        deleted, _by_model = models.QuerySet.delete(self.filter(created_at__lt=before))
        return deleted


class AuditEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=30, choices=Action.choices, db_index=True)
    # Who: a user (kept as a name too, so the row survives the user's deletion), or an
    # API key's prefix, or "system" for commands and tasks.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=150)
    api_key_prefix = models.CharField(max_length=16, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    # What: the object's kind and id (it may be deleted since) and a readable name.
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=40, blank=True)
    target = models.CharField(max_length=300, blank=True)
    knowledge_base = models.ForeignKey("knowledge.KnowledgeBase", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("audit events are append-only")
