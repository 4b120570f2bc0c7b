"""The audit log in Django's admin: read-only, for superusers (the console's /console/audit/
is the page meant for people; this one is for looking up a single row)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from citewise.audit.models import AuditEvent
from citewise.knowledge.permissions import is_admin
from citewise.ops.readonly_admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "api_key_prefix", "address", "action", "target",
                    "knowledge_base")
    list_filter = ("action", "created_at")
    search_fields = ("actor", "target", "address")
    list_select_related = ("knowledge_base",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin(request.user)
