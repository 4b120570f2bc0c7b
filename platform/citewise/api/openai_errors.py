"""Errors under /v1/ in OpenAI's shape, so OpenAI clients raise their usual exceptions:
{"error": {"message", "type", "param", "code"}} with OpenAI's status codes (401
invalid_api_key, 404 model_not_found, 400 invalid_request_error, 429 with Retry-After,
503 when the LLM is unavailable). `code` is stable (clients branch on it); `message` is
for a person, in the request's language (Accept-Language)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status

from citewise.accounts.keys import KeyProblem
from citewise.ops.outages import RETRY_AFTER_SECONDS, outage_of

logger = logging.getLogger(__name__)

INVALID_REQUEST = "invalid_request_error"

# DRF's codes -> (OpenAI's type, OpenAI's code): OpenAI's own where it has one.
_SHAPES = {
    "not_authenticated": (INVALID_REQUEST, "invalid_api_key"),
    **{problem.value: (INVALID_REQUEST, "invalid_api_key") for problem in KeyProblem},
    "scope_missing": (INVALID_REQUEST, "scope_missing"),
    "permission_denied": (INVALID_REQUEST, "forbidden"),
    "throttled": ("requests", "rate_limit_exceeded"),
    "parse_error": (INVALID_REQUEST, "invalid_json"),
    "method_not_allowed": (INVALID_REQUEST, "method_not_allowed"),
    "unsupported_media_type": (INVALID_REQUEST, "unsupported_media_type"),
    "not_acceptable": (INVALID_REQUEST, "not_acceptable"),
    "model_not_found": (INVALID_REQUEST, "model_not_found"),
    "not_found": (INVALID_REQUEST, "not_found"),
}


class ModelNotFound(exceptions.NotFound):
    """Unknown and unreadable knowledge bases are the same 404: a key never learns that
    a knowledge base it may not read exists."""

    def __init__(self, model: str) -> None:
        super().__init__(_("The model “%(model)s” does not exist or you do not have access "
                           "to it.") % {"model": model}, code="model_not_found")


class InvalidMessages(exceptions.ValidationError):
    """A request the serializers accept but that asks nothing (no question at the end)."""

    def __init__(self, message: str) -> None:
        super().__init__({"messages": [message]})


class LLMDown(exceptions.APIException):
    """The ask service failed (an AskFailed event): its code, e.g. llm_unreachable."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "answer_unavailable"


def error_object(message: str, *, type_: str, code: str | None,
                 param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def openai_error_handler(exc: Exception, context: dict):
    """DRF's exception handler, reshaped (headers such as Retry-After and
    WWW-Authenticate kept); anything else is a logged 500."""
    from rest_framework.views import exception_handler  # see problems.problem_handler

    response = exception_handler(exc, context)
    if response is None and (outage := outage_of(exc)) is not None:
        return JsonResponse(error_object(str(outage.detail), type_="server_error",
                                         code=outage.code),
                            status=outage.status, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if response is None:
        logger.exception("OpenAI-compatible request failed", exc_info=exc)
        return JsonResponse(server_error(), status=500)
    response.data = _shaped(exc, response.status_code, response.data)
    return response


def _shaped(exc: Exception, status_code: int, data) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        param, message = _first_field_error(exc.detail)
        return error_object(f"{param}: {message}" if param else message,
                            type_=INVALID_REQUEST, param=param, code="invalid_value")
    message = str(data.get("detail", "")) if isinstance(data, dict) else ""
    if isinstance(exc, LLMDown):
        return error_object(message, type_="server_error", code=exc.get_codes())
    drf_code = exc.get_codes() if isinstance(exc, exceptions.APIException) else (
        "not_found" if status_code == 404 else "permission_denied")
    type_, code = _SHAPES.get(drf_code, (INVALID_REQUEST, drf_code))
    return error_object(message, type_=type_, code=code)


def _first_field_error(detail, path: str = "") -> tuple[str | None, str]:
    """The first message of a (nested) DRF validation error and where it is, in
    OpenAI's notation: ("messages.[1].content", "This field may not be blank.")."""
    if isinstance(detail, dict):  # fields, or a ListField's {index: errors}
        field, inner = next(iter(detail.items()))
        if field == "non_field_errors":
            return _first_field_error(inner, path)
        step = f"[{field}]" if isinstance(field, int) else field
        return _first_field_error(inner, f"{path}.{step}" if path else step)
    if isinstance(detail, list):
        for index, inner in enumerate(detail):
            if inner:  # DRF marks the valid items of a list with {}
                nested = isinstance(inner, dict | list)
                return _first_field_error(inner, f"{path}.[{index}]" if nested else path)
    return path or None, str(detail)


def server_error() -> dict:
    return error_object(_("Something went wrong on our side."), type_="server_error",
                        code="server_error")


@csrf_exempt  # a POST to a wrong address is a 404 for a program, not a CSRF page
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other address under /v1/."""
    return JsonResponse(error_object(
        _("There is no such endpoint: %(method)s %(path)s") % {
            "method": request.method, "path": request.path},
        type_=INVALID_REQUEST, code="unknown_url"), status=404)
