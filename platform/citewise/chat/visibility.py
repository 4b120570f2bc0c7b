"""Whether a stored answer may still be shown to the one who asked it.

An answer's words come from the passages it cites. When the actor can no longer read a
knowledge base one of them came from (a rule changed, a key was narrowed), the citations
of that knowledge base are hidden (conversations.visible_citations) and so is the
answer's text, at every door that shows a stored answer: the chat page, the REST API,
and the history given to the model for a follow-up. Readability is decided by
citewise.knowledge.permissions only.
"""

from __future__ import annotations

from collections.abc import Collection

from django.utils.translation import gettext

from citewise.chat.models import Message, Role
from citewise.knowledge.permissions import Actor, readable_ids

WITHHELD_CODE = "answer_withheld"


def withheld(actor: Actor, message: Message, readable: Collection[int] | None = None) -> bool:
    """True for an answer citing a knowledge base the actor no longer reads. Uses
    message.citations.all(), so a prefetch serves it; `readable` (the ids the actor reads:
    permissions.readable_ids or readable_slugs), when the caller checks several messages,
    saves asking again for each."""
    if message.role != Role.ASSISTANT:
        return False
    cited = {c.knowledge_base_id for c in message.citations.all()} - {None}
    allowed = readable_ids(actor) if readable is None else readable
    return bool(cited) and not all(pk in allowed for pk in cited)


def withheld_sentence() -> str:
    return gettext("This answer quoted a knowledge base you can no longer read, so it is "
                   "not shown.")


def visible_text(actor: Actor, message: Message,
                 readable: Collection[int] | None = None) -> str:
    """The message's text, or for a withheld answer the sentence saying why (in the
    active language); `readable` as for withheld."""
    return withheld_sentence() if withheld(actor, message, readable) else message.text
