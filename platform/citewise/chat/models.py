"""Conversations, their messages, each answer's citations, and the questions the
documents could not answer (the admins' gap report)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from citewise.knowledge.choices import AnswerBackend
from citewise.knowledge.models import Chunk, Document, KnowledgeBase


class Conversation(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="conversations")
    # Asked through an API key: the conversation belongs to the key's owner (user) but is
    # listed per key, and not in the owner's web chat.
    api_key = models.ForeignKey("accounts.ApiKey", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    knowledge_bases = models.ManyToManyField(KnowledgeBase, related_name="conversations")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Role(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField()
    # For an assistant message: the standalone question retrieval used (after rewriting
    # a follow-up), how the answer was made, and what it cost.
    search_query = models.TextField(blank=True)
    backend = models.CharField(max_length=20, blank=True, choices=AnswerBackend.choices)
    not_found = models.BooleanField(default=False)
    # The person pressed Stop (or left) while the answer streamed: the text is what had
    # arrived by then, and the model's request was cancelled.
    stopped = models.BooleanField(default=False)
    # The answer service failed (inference.errors.ErrorCode, e.g. llm_interrupted): the
    # text is what had arrived before the failure, never a complete answer; pages show
    # the code's sentence in the reader's language.
    error_code = models.CharField(max_length=40, blank=True)
    grounded = models.BooleanField(default=False)
    notice = models.TextField(blank=True, help_text="Shown with the answer, e.g. a fallback.")
    # For a "not found" answer, what the page shows again after a reload: the knowledge
    # bases searched (names then) and the closest documents ({document, title, url,
    # knowledge_base}), which the text only names.
    searched_knowledge_bases = models.JSONField(default=list, blank=True)
    closest_documents = models.JSONField(default=list, blank=True)
    invalid_citations = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "created_at", "pk"]
        # The reports count answers by day over a period (citewise.chat.reports).
        indexes = [models.Index(fields=["role", "created_at"], name="message_role_created")]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"


class Citation(models.Model):
    """A numbered source of an answer, kept even if its document is later deleted (the
    snippet and names stay; the links go)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="citations")
    n = models.PositiveIntegerField()
    chunk = models.ForeignKey(Chunk, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    knowledge_base = models.ForeignKey(KnowledgeBase, null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    document_name = models.CharField(max_length=255)
    title = models.CharField(max_length=500)
    page = models.PositiveIntegerField(null=True, blank=True)
    # The quoted sentence's line (text, Markdown, CSV) or row (spreadsheet), 1-based as an
    # editor or Excel shows it; null for formats without lines (ingestion Block.line).
    line = models.PositiveIntegerField(null=True, blank=True)
    # The document's detected_type, kept like its name: whether `page` is a slide and
    # `line` a row of the sheet named first in heading_path (knowledge.places).
    document_type = models.CharField(max_length=20, blank=True)
    heading_path = models.JSONField(default=list, blank=True)
    snippet = models.TextField()
    supported = models.BooleanField(default=True)

    class Meta:
        ordering = ["message", "n"]
        constraints = [models.UniqueConstraint(fields=["message", "n"],
                                               name="citation_number_unique")]

    def __str__(self) -> str:
        return f"[{self.n}] {self.title}"


class Rating(models.TextChoices):
    UP = "up", "Helpful"
    DOWN = "down", "Not helpful"


class Feedback(models.Model):
    """A person's verdict on an answer (one per person and answer; giving it again
    replaces it), for the admins' reports."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["message", "user"],
                                               name="feedback_one_per_person")]
        indexes = [models.Index(fields=["updated_at"], name="feedback_updated")]

    def __str__(self) -> str:
        return f"{self.rating}: {self.comment[:60]}"


class Answer(Message):
    """The assistant messages, for the admins' usage report (tokens per answer)."""

    class Meta:
        proxy = True
        verbose_name = "answer (usage report)"
        verbose_name_plural = "answers (usage report)"


class UnansweredQuestion(models.Model):
    question = models.TextField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    knowledge_bases = models.ManyToManyField(KnowledgeBase, related_name="unanswered")
    best_score = models.FloatField(null=True, blank=True)
    closest_documents = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="unanswered_created")]

    def __str__(self) -> str:
        return self.question[:80]
