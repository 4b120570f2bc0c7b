"""ASGI entry point (uvicorn): Django answers everything (pages, SSE streams, /api/, /v1/)
except /mcp, the MCP server (the `mcp` SDK's app, citewise.api.mcp_server).

The server's lifespan events go to the MCP app: its lifespan runs the SDK's session
manager, which must be running before /mcp can answer. Django's ASGI handler does not
speak the lifespan protocol, so it gets none. (uvicorn sends them by default; with
`--lifespan off`, /mcp would fail.) The first lifespan event also starts loading the
knowledge bases' models in the background (citewise.knowledge.warmup)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citewise.settings")

django_application = get_asgi_application()

# After Django is set up: the MCP server imports models.
from citewise.api.mcp_server import PATH, mcp_application  # noqa: E402
from citewise.knowledge.warmup import warm_up_in_background  # noqa: E402

mcp = mcp_application()


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        warm_up_in_background()
    if scope["type"] == "lifespan" or (
            scope["type"] == "http" and scope["path"] in (PATH, f"{PATH}/")):
        await mcp(scope, receive, send)
    else:
        await django_application(scope, receive, send)
