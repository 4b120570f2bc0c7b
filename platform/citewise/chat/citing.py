"""The questions whose answers cited a document: what its managers see of its use.
Callers check that the person may edit the document's knowledge base."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from citewise.chat.models import Citation, Message, Role
from citewise.knowledge.models import Document


def answers_citing(document: Document, *, limit: int = 20) -> QuerySet[Message]:
    """The latest `limit` answers that cite `document`, most recent first, each with
    `question`: the text of the question it answers (the user message before it), in
    one query."""
    question = (Message.objects.filter(conversation=OuterRef("conversation"), role=Role.USER,
                                       pk__lt=OuterRef("pk"))
                .order_by("-pk").values("text")[:1])
    cited_in = Citation.objects.filter(document=document).values("message")
    return (Message.objects.filter(role=Role.ASSISTANT, pk__in=cited_in)
            .annotate(question=Subquery(question))
            .only("pk", "created_at", "search_query", "conversation_id")
            .order_by("-created_at", "-pk")[:limit])
