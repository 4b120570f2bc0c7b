"""ASGI entry point (uvicorn): answers stream to browsers and API clients over SSE."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")

application = get_asgi_application()
