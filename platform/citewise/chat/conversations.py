"""A person's conversations: the chat page's history, the knowledge bases it may ask,
feedback on answers, and stopping an answer from another request.

Every function takes the actor and returns None (or False) for a conversation or message
that is not theirs, exactly as for one that does not exist: the page answers 404 either
way, so ids reveal nothing. Which knowledge bases may be read is decided only by
citewise.knowledge.permissions (via search.allowed_knowledge_bases).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from citewise.chat.events import AskEvent
from citewise.chat.models import Conversation, Feedback, Message, Rating, Role
from citewise.chat.services import ask, new_conversation, source_url
from citewise.knowledge.models import Document, DocumentStatus, KnowledgeBase
from citewise.knowledge.permissions import (
    Actor,
    KeyActor,
    acting_user,
    readable_knowledge_bases,
    readable_slugs,
)
from citewise.knowledge.places import place_label
from citewise.knowledge.search import allowed_knowledge_bases

TITLE_LENGTH = 200
# How long a Stop request waits for its stream (an answer never streams longer).
STOP_TTL_SECONDS = 600


def _owned(actor: Actor) -> QuerySet[Conversation]:
    """A key's conversations are the key's (its owner's, listed per key); a person's web
    chat holds only the conversations they had in it."""
    if isinstance(actor, KeyActor):
        return Conversation.objects.filter(user=actor.owner, api_key=actor.key)
    if not getattr(actor, "is_authenticated", False):
        return Conversation.objects.none()
    return Conversation.objects.filter(user=actor, api_key__isnull=True)


def conversations_of(actor: Actor) -> QuerySet[Conversation]:
    """The actor's conversations, the most recently used first."""
    return _owned(actor).order_by("-updated_at", "-pk")


def conversation_of(actor: Actor, conversation_id: int) -> Conversation | None:
    return _owned(actor).filter(pk=conversation_id).first()


def rename(actor: Actor, conversation_id: int, title: str) -> Conversation | None:
    """A blank title keeps the old one (a conversation is never nameless in the list)."""
    conversation = conversation_of(actor, conversation_id)
    title = " ".join(title.split())[:TITLE_LENGTH]
    if conversation is not None and title:
        conversation.title = title
        # Not updated_at: renaming does not move a conversation to the top of the list.
        Conversation.objects.filter(pk=conversation.pk).update(title=title)
    return conversation


def delete(actor: Actor, conversation_id: int) -> bool:
    deleted, _ = _owned(actor).filter(pk=conversation_id).delete()
    return bool(deleted)


def start_conversation(actor: Actor, question: str,
                       knowledge_bases: list[KnowledgeBase]) -> Conversation:
    return new_conversation(actor, question, knowledge_bases)


def discard_if_empty(conversation: Conversation) -> None:
    """A conversation whose first answer failed (nothing stored) leaves no empty row."""
    if not conversation.messages.exists():
        conversation.delete()


def answers_of(conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.prefetch_related("citations")


def answer_of(actor: Actor, message_id: int) -> Message | None:
    return (Message.objects.filter(pk=message_id, role=Role.ASSISTANT,
                                   conversation__in=_owned(actor))
            .prefetch_related("citations").first())


def question_of(answer: Message) -> str:
    """The question an answer answers: the person's message just before it."""
    question = (answer.conversation.messages.filter(role=Role.USER, pk__lt=answer.pk)
                .order_by("-pk").values_list("text", flat=True).first())
    return question or ""


def answer_after(conversation: Conversation, message_id: int | None) -> Message | None:
    """The conversation's newest answer if it was stored after `message_id` (the newest
    message before the question was asked): a stopped answer yields no event of its own."""
    answers = conversation.messages.filter(role=Role.ASSISTANT)
    if message_id is not None:
        answers = answers.filter(pk__gt=message_id)
    return answers.order_by("-pk").first()


def forget_last_exchange(conversation: Conversation, answer_id: int) -> bool:
    """Regenerate: the conversation's last answer, if it is `answer_id`, and the question it
    answers are deleted (their citations and feedback with them) before the question is
    asked again, so the new answer takes their place and does not see the old one in the
    history. Nothing but the last exchange is ever rewritten. False: it was not the last."""
    last = conversation.messages.order_by("-pk").first()
    if last is None or last.pk != answer_id or last.role != Role.ASSISTANT:
        return False
    question = (conversation.messages.filter(role=Role.USER, pk__lt=last.pk)
                .order_by("-pk").values_list("pk", flat=True).first())
    conversation.messages.filter(pk__in=[last.pk, question]).delete()
    return True


def last_message_id(conversation: Conversation | None) -> int | None:
    if conversation is None:
        return None
    return conversation.messages.order_by("-pk").values_list("pk", flat=True).first()


# --- Knowledge bases -------------------------------------------------------------------

@dataclass(frozen=True)
class PickerChoice:
    knowledge_base: KnowledgeBase
    chosen: bool


def picker(actor: Actor, conversation: Conversation | None) -> list[PickerChoice]:
    """The knowledge bases the actor may read, those the conversation asks ticked (all of
    them for a new conversation, or when none of its own is readable any more)."""
    readable = list(readable_knowledge_bases(actor).order_by("name"))
    remembered = (set(conversation.knowledge_bases.values_list("pk", flat=True))
                  if conversation else set())
    remembered &= {kb.pk for kb in readable}
    return [PickerChoice(kb, not remembered or kb.pk in remembered) for kb in readable]


def chosen_knowledge_bases(actor: Actor, ids: Iterable[int]) -> list[KnowledgeBase]:
    """The knowledge bases picked, all readable ones when none was. Raises PermissionDenied
    when one is not readable or does not exist (the same refusal: ids reveal nothing)."""
    ids = set(ids)
    if not ids:
        return allowed_knowledge_bases(actor, None)
    found = list(KnowledgeBase.objects.filter(pk__in=ids))
    if len(found) != len(ids):
        raise PermissionDenied("no such knowledge base")
    return allowed_knowledge_bases(actor, found)


def remember_knowledge_bases(conversation: Conversation,
                             knowledge_bases: list[KnowledgeBase]) -> None:
    conversation.knowledge_bases.set(knowledge_bases)


def still_indexing(knowledge_bases: list[KnowledgeBase]) -> list[KnowledgeBase]:
    """Those with documents not indexed yet: their answers may miss what is coming."""
    pending = Document.objects.filter(
        knowledge_base=OuterRef("pk"),
        status__in=[DocumentStatus.QUEUED, DocumentStatus.PROCESSING])
    return list(KnowledgeBase.objects.filter(pk__in=[kb.pk for kb in knowledge_bases])
                .filter(Exists(pending)).order_by("name"))


def visible_citations(actor: Actor, message: Message,
                      readable: dict[int, str] | None = None) -> dict[int, dict]:
    """A stored answer's citations as the page shows them ({n: n, chunk_id,
    knowledge_base (slug), document, title, page, line, document_type, location (the
    place in words: knowledge.places), heading_path, snippet, supported, url}),
    only those of knowledge bases the actor still reads; a citation whose document was
    deleted keeps its words but loses its link (url "", chunk_id None). `readable`
    (permissions.readable_slugs), when the caller shows several messages, saves asking
    again for each."""
    if readable is None:
        readable = readable_slugs(actor)
    shown = {}
    for citation in message.citations.all():
        if citation.knowledge_base_id is not None and citation.knowledge_base_id not in readable:
            continue
        shown[citation.n] = {
            "n": citation.n, "chunk_id": citation.chunk_id,
            "knowledge_base": readable.get(citation.knowledge_base_id, ""),
            "title": citation.title, "document": citation.document_name,
            "page": citation.page, "line": citation.line,
            "document_type": citation.document_type,
            "location": place_label(citation.document_type, page=citation.page,
                                    line=citation.line, heading_path=citation.heading_path),
            "heading_path": citation.heading_path,
            "snippet": citation.snippet, "supported": citation.supported,
            "url": (source_url(citation.chunk_id, citation.page, citation.snippet)
                    if citation.chunk_id else "")}
    return shown


def visible_closest_documents(actor: Actor, message: Message,
                              readable: dict[int, str] | None = None) -> list[dict]:
    """The documents a "not found" answer listed, of knowledge bases the actor reads."""
    slugs = set((readable_slugs(actor) if readable is None else readable).values())
    return [item for item in message.closest_documents if item.get("knowledge_base") in slugs]


# --- Feedback --------------------------------------------------------------------------

def give_feedback(actor: Actor, message_id: int, rating: str,
                  comment: str = "") -> Feedback | None:
    """The actor's verdict on one of their answers; giving it again replaces it. None when
    the answer is not theirs. Raises ValueError for a rating other than up or down."""
    if rating not in Rating.values:
        raise ValueError(f"rating must be one of {', '.join(Rating.values)}")
    message = Message.objects.filter(
        pk=message_id, role=Role.ASSISTANT, conversation__in=_owned(actor)).first()
    if message is None:
        return None
    with transaction.atomic():
        feedback, _ = Feedback.objects.update_or_create(
            message=message, user=acting_user(actor),
            defaults={"rating": rating, "comment": comment.strip()})
    return feedback


def feedback_by_message(actor: Actor, messages: Iterable[Message]) -> dict[int, Feedback]:
    user = acting_user(actor)
    if user is None:
        return {}
    return {f.message_id: f for f in Feedback.objects.filter(
        user=user, message__in=[m.pk for m in messages])}


# --- Stopping an answer from another request --------------------------------------------
# Behind a proxy a closed connection may not reach the server at once, and with several
# web processes the Stop request may land in another one than the stream: the request is
# left in Django's cache (shared when it is Redis), keyed by the person, and the stream
# looks for it between pieces.

def _stop_key(actor: Actor, stream_id: str) -> str:
    return f"citewise:chat:stop:{actor.pk}:{stream_id}"


def request_stop(actor: Actor, stream_id: str) -> None:
    cache.set(_stop_key(actor, stream_id), "stop", timeout=STOP_TTL_SECONDS)


def stop_requested(actor: Actor, stream_id: str) -> bool:
    return bool(cache.get(_stop_key(actor, stream_id)))


# --- Asking in a conversation ------------------------------------------------------------

@dataclass
class PreparedAnswer:
    """An answer about to stream: the conversation it goes into (new ones are made first,
    so the page can show and stop it from the first event), the ask service's events (not
    started yet), the chosen knowledge bases still indexing, and the newest message before
    the question, to find the answer stored when the stream is stopped."""

    conversation: Conversation
    created: bool
    events: Iterator[AskEvent]
    indexing: list[KnowledgeBase]
    before: int | None
    replaced: bool = False


def prepare_answer(actor: Actor, question: str, *, knowledge_base_ids: Iterable[int] = (),
                   conversation_id: int | None = None,
                   replacing: int | None = None) -> PreparedAnswer | None:
    """Check everything a person can get wrong before anything streams. None: not their
    conversation. Raises ValueError for an empty question and PermissionDenied for a
    knowledge base they may not read (or none readable at all). No knowledge base picked:
    the conversation's own, or every readable one for a new conversation. `replacing`: the
    id of the conversation's last answer, asked again (Regenerate); an answer that is not
    the last any more stays, and the new one follows it."""
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    conversation = None
    if conversation_id is not None:
        conversation = conversation_of(actor, conversation_id)
        if conversation is None:
            return None
    ids = set(knowledge_base_ids)
    if not ids and conversation is not None:
        ids = set(conversation.knowledge_bases.values_list("pk", flat=True))
    kbs = chosen_knowledge_bases(actor, ids)
    if not kbs:
        raise PermissionDenied("there is no knowledge base you may read")
    created = conversation is None
    if conversation is None:
        conversation = start_conversation(actor, question, kbs)
    else:
        remember_knowledge_bases(conversation, kbs)
    replaced = (not created and replacing is not None
                and forget_last_exchange(conversation, replacing))
    before = last_message_id(conversation)
    return PreparedAnswer(conversation, created,
                          ask(actor, question, knowledge_bases=kbs, conversation=conversation),
                          still_indexing(kbs), before, replaced)
