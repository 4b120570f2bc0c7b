"""API: REST v1 and the OpenAI-compatible endpoints (and, later, MCP).

No ready() hook: the Bearer key scheme (schema.py) registers itself with drf-spectacular
when the API's views import it, which loading the URLs does before any schema is made;
importing drf-spectacular at start-up cost every command (`manage.py ask`) a second.
"""
from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "citewise.api"
    label = "api"
