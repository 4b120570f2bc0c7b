"""API keys in the admin: create (the key is shown once, in a message), list, revoke."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from citewise.accounts.models import ApiKey

# The library's own concrete key model is not used (ours adds owner and scopes); its admin
# page would only confuse.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = ("prefix", "name", "owner", "operations", "rate_limit", "created",
                    "expiry_date", "_has_expired", "last_used_at", "revoked")
    list_filter = ("revoked", "created")
    search_fields = ("name", "prefix", "owner__username")
    filter_horizontal = ("knowledge_bases",)
    autocomplete_fields = ("owner",)
    actions = ["revoke_keys"]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "last_used_at")

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(request, ngettext("%(count)d key revoked.", "%(count)d keys revoked.",
                                            count) % {"count": count}, messages.SUCCESS)
