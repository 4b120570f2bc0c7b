"""Audited saves on Django's admin pages. Many-to-many fields (access lists, groups, a
key's knowledge bases) are saved after save_model, in save_related: the state before the
change is read in the first and compared in the second, once everything is saved."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.http import HttpRequest


class AuditedSaves:
    """Mixin for a ModelAdmin. Subclasses say what is compared and how it is recorded."""

    def stored_state(self, obj: models.Model) -> Any:
        """The object's audited state as stored (before this save)."""
        raise NotImplementedError

    def record_created(self, actor: AbstractBaseUser, obj: models.Model) -> None:
        raise NotImplementedError

    def record_changes(self, actor: AbstractBaseUser, obj: models.Model, before: Any) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj, form, change) -> None:
        form.audit_before = self.stored_state(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if form.audit_before is None:
            self.record_created(request.user, form.instance)
        else:
            self.record_changes(request.user, form.instance, form.audit_before)
