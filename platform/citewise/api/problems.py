"""Every error under /api/ as problem details (RFC 9457, application/problem+json):
{type, title, status, detail, code, errors}. `code` is stable (clients branch on it);
`title` and `detail` are for a person, in the request's language (Accept-Language);
`errors` holds per-field messages of a validation error."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status

from citewise.accounts.keys import KeyProblem
from citewise.ops.outages import outage_of, outage_response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# DRF's own codes renamed where ours are clearer or documented.
_RENAMED = {"throttled": "rate_limited", "invalid": "validation_error",
            "permission_denied": "forbidden"}

TITLES = {
    "not_authenticated": gettext_lazy("Authentication required"),
    KeyProblem.INVALID: gettext_lazy("Invalid API key"),
    KeyProblem.REVOKED: gettext_lazy("API key revoked"),
    KeyProblem.EXPIRED: gettext_lazy("API key expired"),
    "scope_missing": gettext_lazy("Operation not allowed for this key"),
    "forbidden": gettext_lazy("Forbidden"),
    "not_found": gettext_lazy("Not found"),
    "validation_error": gettext_lazy("Invalid request"),
    "parse_error": gettext_lazy("Malformed request"),
    "rate_limited": gettext_lazy("Too many requests"),
    "method_not_allowed": gettext_lazy("Method not allowed"),
    "unsupported_media_type": gettext_lazy("Unsupported media type"),
    "not_acceptable": gettext_lazy("Not acceptable"),
    "answer_unavailable": gettext_lazy("The answer service is unavailable"),
    "knowledge_base_read_only": gettext_lazy("Knowledge base is read-only for this key"),
    "idempotency_key_reused": gettext_lazy("Idempotency-Key already used"),
    "too_large": gettext_lazy("File too large"),
    "unsupported_type": gettext_lazy("Unsupported file type"),
    "encrypted": gettext_lazy("Password-protected file"),
    "server_error": gettext_lazy("Internal error"),
    # database_unavailable, storage_full and storage_unavailable: citewise/ops/outages.py,
    # for every door.
}


class ScopeMissing(exceptions.PermissionDenied):
    default_code = "scope_missing"

    def __init__(self, operation: str) -> None:
        super().__init__(_("This API key may not use the “%(operation)s” operation.")
                         % {"operation": operation}, code="scope_missing")


class KeyRefused(exceptions.AuthenticationFailed):
    def __init__(self, problem: KeyProblem) -> None:
        super().__init__(str(problem.label), code=problem.value)


class ReadOnlyKnowledgeBase(exceptions.PermissionDenied):
    """The key may read the knowledge base (and has the documents scope) but its owner
    may not edit it."""

    def __init__(self, name: str) -> None:
        super().__init__(_("This API key may read “%(name)s” but not change its documents: "
                           "its owner is not an editor of it.") % {"name": name},
                         code="knowledge_base_read_only")


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(_("This Idempotency-Key was sent before with a different request. "
                           "Use a new key for a new upload."))


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, limit_mb: int) -> None:
        super().__init__(_("The file is larger than the limit of %(mb)d MB. Split it, or ask "
                           "an administrator to raise CITEWISE_MAX_UPLOAD_MB.")
                         % {"mb": limit_mb})


class UnreadableFile(exceptions.APIException):
    """A file Citewise cannot read, known from its first bytes: code unsupported_type or
    encrypted (ingestion.errors' codes)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unsupported_type"


class AnswerUnavailable(exceptions.APIException):
    """The ask service failed (an AskFailed event): its code, e.g. llm_unreachable."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "answer_unavailable"


def problem(status_code: int, code: str, detail: str, **extra) -> dict:
    title = TITLES.get(code) or TITLES.get(_title_family(code), "")
    return {"type": f"urn:citewise:problem:{code}", "title": str(title),
            "status": status_code, "detail": detail, "code": code, **extra}


def _title_family(code: str) -> str:
    return "answer_unavailable" if code.startswith("llm_") else "server_error"


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error"
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return _RENAMED.get(code, code)


def problem_handler(exc: Exception, context: dict):
    # Imported here: rest_framework.views imports the authentication classes, which
    # import this module.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)  # Http404 and PermissionDenied become DRF's
    if response is None and (outage := outage_of(exc)) is not None:
        return outage_response(context["request"], outage)
    if response is None:
        logger.exception("API request failed", exc_info=exc)
        return JsonResponse(problem(500, "server_error", _("Something went wrong on our side.")),
                            status=500, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, exceptions.APIException):
        code = _code_of(exc)
    else:  # Django's Http404 / PermissionDenied, converted by DRF
        code = "not_found" if response.status_code == 404 else "forbidden"
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = problem(response.status_code, code,
                                _("Some fields are missing or invalid."), errors=errors)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = problem(response.status_code, code, str(detail))
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


@csrf_exempt  # bots send no CSRF token: their POST to a wrong address is a 404 too
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other address under /api/: a problem, not Django's HTML page."""
    return JsonResponse(problem(404, "not_found", _("There is no such API endpoint.")),
                        status=404, content_type=PROBLEM_CONTENT_TYPE)
