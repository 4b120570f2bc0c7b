"""Errors a person can read: the web and API layers show `message` as it is."""

from __future__ import annotations


class InferenceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LLMUnavailable(InferenceError):
    """The answer service cannot answer now: down, slow, busy, misconfigured or failing.

    `retryable`: a later attempt may succeed (timeouts, connection errors, 5xx, busy);
    `status`: the HTTP status when the server answered with an error.
    """

    def __init__(self, message: str, *, retryable: bool = False,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class BackendBusy(LLMUnavailable):
    """All answer slots of this process stayed taken for longer than the wait timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
