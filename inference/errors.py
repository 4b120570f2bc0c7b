"""Errors a person can read: the web and API layers show `message` as it is, or translate
`code` (a stable machine code) into the reader's language."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why the answer service could not answer (stable: pages translate and count them)."""

    UNREACHABLE = "llm_unreachable"  # connection refused or failed
    TIMEOUT = "llm_timeout"  # no reply within the timeout
    INTERRUPTED = "llm_interrupted"  # the connection broke, or the stream stopped midway
    AUTH = "llm_auth"  # the API key was refused
    MODEL_MISSING = "llm_model_missing"  # the configured model is not served
    OVERLOADED = "llm_overloaded"  # HTTP 429, or every answer slot of this process taken
    SERVER_ERROR = "llm_server_error"  # HTTP 5xx
    REJECTED = "llm_rejected"  # another HTTP 4xx
    NOT_CONFIGURED = "llm_not_configured"  # no VLLM_BASE_URL / VLLM_MODEL
    FAILED = "llm_failed"  # anything else


class InferenceError(Exception):
    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class LLMUnavailable(InferenceError):
    """The answer service cannot answer now: down, slow, busy, misconfigured or failing.

    `retryable`: a later attempt may succeed (timeouts, connection errors, 5xx, busy);
    `status`: the HTTP status when the server answered with an error.
    """

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.FAILED,
                 retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable
        self.status = status


class BackendBusy(LLMUnavailable):
    """All answer slots of this process stayed taken for longer than the wait timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.OVERLOADED, retryable=True)
