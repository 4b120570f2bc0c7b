"""API keys in the admin: create (the key is shown once, in a message), list, revoke.
Users: Django's own pages, with role changes audited. Both record through the services
(keys.py, roles.py), as the command and the console do."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from citewise.accounts import keys, roles
from citewise.accounts.models import ApiKey, Operation, default_operations
from citewise.audit.admin_saves import AuditedSaves
from citewise.knowledge.permissions import (
    is_admin,
    manageable_api_keys,
    readable_knowledge_bases,
)

# The library's own concrete key model is not used (ours adds owner and scopes); its admin
# page would only confuse.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class ApiKeyForm(forms.ModelForm):
    """Operations as checkboxes (the model keeps them as a JSON list)."""

    operations = forms.MultipleChoiceField(
        choices=Operation.choices, widget=forms.CheckboxSelectMultiple,
        initial=default_operations, label=_("Operations"),
        help_text=_("What the key may do."))

    class Meta:
        model = ApiKey
        fields = ("name", "owner", "knowledge_bases", "operations", "rate_limit", "expiry_date",
                  "revoked")


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedSaves, APIKeyModelAdmin):
    form = ApiKeyForm
    list_display = ("prefix", "name", "owner", "operations", "rate_limit", "created",
                    "expiry_date", "_has_expired", "last_used_at", "revoked")
    list_filter = ("revoked", "created")
    search_fields = ("name", "prefix", "owner__username")
    filter_horizontal = ("knowledge_bases",)
    autocomplete_fields = ("owner",)
    actions = ["revoke_keys"]

    # Which keys, owners and knowledge bases a staff user who is not an admin sees is the
    # permission service's to decide: their own keys, for knowledge bases they read.
    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            pk__in=manageable_api_keys(request.user).values("pk"))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "knowledge_bases":
            kwargs["queryset"] = readable_knowledge_bases(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner" and not is_admin(request.user):
            kwargs["queryset"] = User.objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "last_used_at")

    def get_exclude(self, request, obj=None):
        # A new key is not revoked: revoking is the list's action, once it exists.
        return ("revoked",) if obj is None else super().get_exclude(request, obj)

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "owner": request.user.pk}

    def stored_state(self, obj):
        return keys.scope_of(ApiKey.objects.get(pk=obj.pk))

    def record_created(self, actor, obj):
        keys.record_created(actor, obj)

    def record_changes(self, actor, obj, before):
        keys.record_changes(actor, obj, before)

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke_keys(self, request, queryset):
        prefixes = list(queryset.filter(revoked=False).values_list("prefix", flat=True))
        for prefix in prefixes:
            keys.revoke(prefix, actor=request.user)
        count = len(prefixes)
        self.message_user(request, ngettext("%(count)d key revoked.", "%(count)d keys revoked.",
                                            count) % {"count": count}, messages.SUCCESS)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(AuditedSaves, UserAdmin):
    """Django's user pages; a new account is audited as ACCOUNT_CREATED, a change of
    someone's role (active, staff, superuser, groups) as ROLE_CHANGED."""

    def stored_state(self, obj):
        return roles.stored_role(obj)

    def record_created(self, actor, obj):
        roles.record_account_created(actor, obj)

    def record_changes(self, actor, obj, before):
        roles.record_role_change(actor, obj, before)
