"""Faults of the machine rather than of the request: the database unreachable, the disk
full, the object store of the originals unreachable. Every door answers them the same
way, at once and in the reader's language: a page of the site (503 or 507) or, under
/api/ and /v1/, problem details with a machine code (`database_unavailable`,
`storage_full`, `storage_unavailable`). Nothing is retried inside the request;
the next request reconnects by itself (CONN_HEALTH_CHECKS), so the processes recover
without a restart once the database or the space is back.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Paths answered with problem details (the REST API and the OpenAI-compatible API).
API_PREFIXES = ("/api/", "/v1/")
RETRY_AFTER_SECONDS = 30
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageFull(OSError):
    """The data directory has no space left (ENOSPC) for an original or an index file."""

    code = "storage_full"


class StorageUnavailable(Exception):
    """The object store that holds the originals (CITEWISE_ORIGINALS_STORAGE=s3) cannot be
    reached or refuses Citewise (down, wrong credentials, no such bucket)."""

    code = "storage_unavailable"


@dataclass(frozen=True)
class Outage:
    status: int
    code: str
    title: Promise
    detail: Promise


DATABASE_DOWN = Outage(
    503, "database_unavailable", _("Citewise is briefly unavailable"),
    _("Citewise cannot reach its database right now. Nothing you sent was saved. Try "
      "again in a minute; if it lasts, tell your administrator."))
DISK_FULL = Outage(
    507, StorageFull.code, _("The server's disk is full"),
    _("Citewise has no disk space left to store this. Nothing was saved. Tell your "
      "administrator, who must free space; then try again."))

STORAGE_DOWN = Outage(
    503, StorageUnavailable.code, _("Citewise cannot reach its file storage"),
    _("Citewise cannot reach the storage that holds the documents' files right now. "
      "Nothing you sent was saved. Try again in a minute; if it lasts, tell your "
      "administrator."))


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, StorageFull) or (
        isinstance(error, OSError) and error.errno in _DISK_FULL)


def outage_of(error: BaseException | None) -> Outage | None:
    """The outage `error` reveals, or None for any other error."""
    if isinstance(error, OperationalError | InterfaceError):
        return DATABASE_DOWN
    if error is not None and is_disk_full(error):
        return DISK_FULL
    if isinstance(error, StorageUnavailable):
        return STORAGE_DOWN
    return None


def problem_body(outage: Outage) -> dict:
    """RFC 9457 problem details (the API's shape, api/problems.py)."""
    return {"type": f"urn:citewise:problem:{outage.code}", "title": str(outage.title),
            "status": outage.status, "detail": str(outage.detail), "code": outage.code}


def outage_response(request: HttpRequest, outage: Outage) -> HttpResponse:
    """The page or problem for `outage`, rendered without the database: no user, no
    session, the language from the request's cookie or Accept-Language."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        if request.headers.get("X-Requested-With") == "XMLHttpRequest":
            # The console's upload script shows a short plain text as the file's error.
            response: HttpResponse = HttpResponse(
                f"{outage.title}. {outage.detail} ({outage.code})", status=outage.status,
                content_type="text/plain; charset=utf-8")
        elif request.path.startswith(API_PREFIXES):
            response = JsonResponse(
                problem_body(outage), status=outage.status,
                content_type="application/problem+json")
        else:
            response = HttpResponse(
                render_to_string("outage.html", {"outage": outage, "language": language}),
                status=outage.status)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class OutageMiddleware:
    """Answers a view's database, disk-full or storage error with outage_response."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        outage = outage_of(exception)
        return None if outage is None else outage_response(request, outage)
