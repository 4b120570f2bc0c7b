from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "citewise.audit"
    label = "audit"
