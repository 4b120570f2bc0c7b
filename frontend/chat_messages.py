"""Sentences the chat page shows that are not in a template: the answer service's failure
codes (inference.errors.ErrorCode) in the page's language, and the strings chat.js needs
(handed to it in a data attribute: the CSP allows no inline script)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_TELL_ADMIN = gettext_lazy("The answer service is not set up correctly. Please tell your "
                           "administrator.")
_ERRORS = {
    "llm_unreachable": gettext_lazy("The answer service cannot be reached. Try again in a "
                                    "few minutes; if it goes on, tell your administrator."),
    "llm_timeout": gettext_lazy("The answer service took too long to reply. Try again."),
    "llm_interrupted": gettext_lazy("The answer was interrupted. Try again."),
    "llm_overloaded": gettext_lazy("The answer service is busy. Try again in a moment."),
    "llm_server_error": gettext_lazy("The answer service failed. Try again later."),
    "llm_auth": _TELL_ADMIN,
    "llm_model_missing": _TELL_ADMIN,
    "llm_not_configured": _TELL_ADMIN,
    "llm_rejected": _TELL_ADMIN,
}
_FAILED = gettext_lazy("Something went wrong while answering. Try again.")


def error_sentence(code: str) -> str:
    return str(_ERRORS.get(code, _FAILED))


def js_strings() -> dict[str, str]:
    return {
        "answering": _("Answering…"),
        "complete": _("Answer complete."),
        "stopped": _("Answer stopped."),
        "notFound": _("The documents do not answer this question."),
        "failed": str(_FAILED),
        "network": _("The connection was lost. Try again."),
        "signIn": _("Sign in again"),
        "copied": _("Answer copied with its sources."),
        "copyFailed": _("Could not copy; select the text and copy it instead."),
        "sources": _("Sources"),
        "feedbackSaved": _("Thank you for your feedback."),
        "chooseKb": _("Choose at least one knowledge base."),
        "renamed": _("Conversation renamed."),
        "deleted": _("Conversation deleted."),
    }
