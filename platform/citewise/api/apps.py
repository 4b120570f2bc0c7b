"""API: REST v1 and the OpenAI-compatible endpoints (and, later, MCP)."""
from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "citewise.api"
    label = "api"

    def ready(self) -> None:
        # Registers the Bearer key scheme with drf-spectacular's schema generator.
        from citewise.api import schema  # noqa: F401
