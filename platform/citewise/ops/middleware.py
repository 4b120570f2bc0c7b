"""One log line and one metrics sample per request, tagged with a request id.

The log line holds the method, the path (never the query string, which may hold a
question or a token), the status, the time taken and the user's id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from citewise.ops.logs import request_id_var
from citewise.ops.metrics import HTTP_LATENCY, HTTP_REQUESTS

logger = logging.getLogger("citewise.request")

REQUEST_ID_HEADER = "X-Request-ID"
# An id from a proxy is kept only if it is short and plain: it ends up in log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Probes hit these every few seconds; they are logged only at DEBUG level.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def request_id_of(request: HttpRequest) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        token = request_id_var.set(request_id)
        request.request_id = request_id  # type: ignore[attr-defined]
        began = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._observe(request, response.status_code, time.perf_counter() - began)
            return response
        finally:
            request_id_var.reset(token)

    def _observe(self, request: HttpRequest, status: int, seconds: float) -> None:
        match = request.resolver_match
        # The route pattern, not the path, keeps the label set small.
        route = f"/{match.route}" if match else "unmatched"
        observe(request, route, status, seconds, user_id=_user_id(request))


def _user_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    try:
        return user.pk if user is not None and user.is_authenticated else None
    except DatabaseError:  # the user is loaded lazily: the database may be down
        return None


def observe(request: HttpRequest, route: str, status: int, seconds: float, *,
            user_id: int | None) -> None:
    """The request's log line and metrics sample (also used by the MCP server at /mcp,
    which Django does not serve)."""
    HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
    HTTP_LATENCY.labels(request.method, route).observe(seconds)
    level = logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO
    logger.log(
        level,
        "%s %s %s %.1fms",
        request.method, request.path, status, seconds * 1000,
        extra={
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "user_id": user_id,
        },
    )
