"""WSGI entry point, for servers without ASGI (answers then arrive whole, not streamed)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")

application = get_wsgi_application()
