"""Stored messages shaped for the chat page: the answer's Markdown as sanitised HTML with
citation chips, its sources, its "not found" details and the person's feedback.

The page shows an answer the same way after a reload as at the end of its stream: the
stream's `done` event carries this module's rendering of the stored message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from citewise.chat import conversations
from citewise.chat.models import Conversation, Feedback, Message, Role
from citewise.chat.visibility import WITHHELD_CODE, withheld, withheld_sentence
from citewise.knowledge.permissions import Actor, readable_slugs
from frontend.chat_messages import error_sentence
from frontend.rendering import citation_chips, render_answer


def _render(markdown_text: str, citations: dict[int, dict]) -> str:
    """Sanitised Markdown (markdown-it-py + nh3), then citation chips (frontend.rendering)."""
    return citation_chips(render_answer(markdown_text), citations)


@dataclass
class ShownMessage:
    message: Message
    html: SafeString = field(default_factory=SafeString)
    sources: list[dict] = field(default_factory=list)
    closest: list[dict] = field(default_factory=list)
    feedback: Feedback | None = None
    is_last_answer: bool = False
    question: str = ""  # the question this answer answers (regenerate asks it again)
    text: str = ""  # what Copy copies: the answer's Markdown, or why it is withheld

    @property
    def is_answer(self) -> bool:
        return self.message.role == Role.ASSISTANT

    @property
    def error(self) -> str:
        """Why the answer failed, in the page's language ("" when it did not)."""
        code = self.message.error_code
        return error_sentence(code) if code else ""

    @property
    def refusal(self) -> str:
        """A "not found" answer's first sentence (the rest lists the closest documents,
        which the page shows as links)."""
        return self.message.text.split("\n\n")[0]


def shown(actor: Actor, message: Message, *, feedback: Feedback | None = None,
          question: str = "", readable: dict[int, str] | None = None) -> ShownMessage:
    """One message as the page shows it; `readable` (permissions.readable_slugs), when
    the caller shows several, saves asking again for each."""
    if message.role != Role.ASSISTANT:
        return ShownMessage(message)
    if readable is None:
        readable = readable_slugs(actor)
    if withheld(actor, message, readable):
        html = format_html('<p class="withheld" data-code="{}">{}</p>', WITHHELD_CODE,
                           withheld_sentence())
        return ShownMessage(message, html, text=withheld_sentence(), feedback=feedback,
                            question=question)
    citations = conversations.visible_citations(actor, message, readable)
    html = "" if message.not_found else _render(message.text, citations)
    return ShownMessage(message, mark_safe(html),  # noqa: S308 - sanitised by rendering.py
                        text=message.text, sources=[citations[n] for n in sorted(citations)],
                        closest=conversations.visible_closest_documents(actor, message,
                                                                        readable),
                        feedback=feedback, question=question)


def conversation_messages(actor: Actor, conversation: Conversation) -> list[ShownMessage]:
    messages = list(conversations.answers_of(conversation))
    feedback = conversations.feedback_by_message(actor, messages)
    readable = readable_slugs(actor)
    result, question = [], ""
    for message in messages:
        if message.role == Role.USER:
            question = message.text
        result.append(shown(actor, message, feedback=feedback.get(message.pk), question=question,
                            readable=readable))
    answers = [item for item in result if item.is_answer]
    if answers:
        answers[-1].is_last_answer = True
    return result
