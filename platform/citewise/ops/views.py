from __future__ import annotations

import contextlib
import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from citewise.ops.access import is_operator_address
from citewise.ops.metrics import database_registry
from citewise.ops.outages import outage_of, outage_response
from citewise.ops.readiness import run_checks


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests; nothing else is checked."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    ready = all(result.ok for result in results)
    # Failure details can name hosts and paths: only operator addresses see them.
    detailed = is_operator_address(request)
    checks = {
        result.name: {
            "ok": result.ok,
            **({"detail": result.detail, "ms": round(result.milliseconds, 1)} if detailed else {}),
        }
        for result in results
    }
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not is_operator_address(request):
        return HttpResponseForbidden("metrics are available to configured addresses only\n")
    body = generate_latest(REGISTRY)
    # Request metrics are still worth serving while the database is down.
    with contextlib.suppress(DatabaseError):
        body += generate_latest(database_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an error raised outside a view (in a middleware, e.g. loading the
    session) that is an outage gets the outage's page; anything else Django's 500."""
    outage = outage_of(sys.exc_info()[1])
    if outage is not None:
        return outage_response(request, outage)
    return defaults.server_error(request)
