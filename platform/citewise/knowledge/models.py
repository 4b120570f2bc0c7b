"""Knowledge bases, their documents and chunks, ingestion attempts and access rules.

The database is the source of truth: chunks keep their embeddings, so every FAISS and
lexical index in the data dir can be rebuilt from here without re-embedding.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from citewise.knowledge.choices import AnswerBackend, FailureCode
from citewise.knowledge.webhooks import new_secret, validate_webhook_url


class LanguageHint(models.TextChoices):
    AUTO = "auto", "Detect from the documents"
    ENGLISH = "en", "English"
    KOREAN = "ko", "Korean"


class KnowledgeBase(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, allow_unicode=True)
    description = models.TextField(blank=True)
    language = models.CharField(
        max_length=8, choices=LanguageHint.choices, default=LanguageHint.AUTO,
        help_text="Auto: the first documents decide the embedding model and passage size.")
    # What "auto" decided from the documents ("en", "ko", "mixed", another ISO 639-1
    # code; empty until a document had text) and why, as shown to admins.
    detected_language = models.CharField(max_length=8, blank=True)
    language_reason = models.CharField(max_length=500, blank=True)
    # Set while a re-embedding into this model runs; the old index serves until the swap.
    pending_embedding_model = models.CharField(max_length=300, blank=True)
    # The re-embedding task that owns it (empty: queued, not yet taken) until the lease
    # ends; it renews the lease as it goes. Past it, the reconciler queues it again.
    reembed_task_id = models.CharField(max_length=255, blank=True, editable=False)
    reembed_lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Counts changes of which chunks are searchable (a document published or deleted),
    # in the transaction that makes them. Local index files record the count they
    # reflect; a node whose files are behind brings them up to date from the database
    # (indexing.refresh_local_indexes): the database, not any node's files, is the truth.
    index_version = models.PositiveBigIntegerField(default=0, editable=False)
    # Fixed at creation: vectors from two models cannot share an index. Changing it
    # means re-embedding into a new index (see the reindex command).
    embedding_model = models.CharField(max_length=300, default="all-MiniLM-L6-v2")
    query_prefix = models.CharField(max_length=50, blank=True,
                                    help_text='Prefix E5/BGE-type models expect, e.g. "query: "')
    passage_prefix = models.CharField(max_length=50, blank=True,
                                      help_text='Prefix for passages, e.g. "passage: "')
    # Answer settings; blank means "use the server-wide setting".
    answer_backend = models.CharField(
        max_length=20, blank=True,
        choices=[("", "Server setting"), *AnswerBackend.choices],
        help_text="Empty: CITEWISE_ANSWER_BACKEND.")
    instructions = models.TextField(blank=True, help_text="Tone, format or persona for answers.")
    # Access. Readers may search and ask; editors may also upload and delete documents.
    readable_by_all = models.BooleanField(default=False,
                                          help_text="Everyone who can sign in may read it.")
    reader_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True,
                                          related_name="readable_knowledge_bases")
    reader_groups = models.ManyToManyField(Group, blank=True,
                                           related_name="readable_knowledge_bases")
    editor_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True,
                                          related_name="editable_knowledge_bases")
    editor_groups = models.ManyToManyField(Group, blank=True,
                                           related_name="editable_knowledge_bases")
    # Told when a document finishes ingestion (webhook_delivery.py). The secret signs each
    # delivery; it is shown to admins only, never in an API response.
    webhook_url = models.CharField(
        max_length=500, blank=True, validators=[validate_webhook_url],
        help_text="Citewise POSTs here when a document is indexed or fails (empty: no "
                  "webhook). http:// or https:// only.")
    webhook_secret = models.CharField(
        max_length=64, blank=True, editable=False,
        help_text="Generated when a webhook URL is set; the receiver checks signatures "
                  "with it. Replace it with the action \"Rotate the webhook secret\".")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        # No URL, no secret; a URL set (again) gets a secret of its own.
        if not self.webhook_url:
            self.webhook_secret = ""
        elif not self.webhook_secret:
            self.webhook_secret = new_secret()
        super().save(*args, **kwargs)

    @property
    def documents_language(self) -> str:
        """The language set by an admin, else the one detected from the documents ("en",
        "ko", "mixed", another ISO 639-1 code; "" until a document had text)."""
        return self.detected_language if self.language == LanguageHint.AUTO else self.language

    @property
    def index_key(self) -> str:
        """The folder name of this knowledge base's index files (ids never change)."""
        return f"kb-{self.pk}"


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


class Stage(models.TextChoices):
    QUEUED = "queued", "Queued"
    PARSING = "parsing", "Parsing"
    CHUNKING = "chunking", "Chunking"
    EMBEDDING = "embedding", "Embedding"
    INDEXING = "indexing", "Indexing"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


class AnswerExample(models.Model):
    """A question and the answer an admin wants for it: a few-shot example that shows the
    LLM the tone, format or persona of this knowledge base's answers (the lightweight
    alternative to fine-tuning). The extractive backend quotes documents and ignores it."""

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE,
                                       related_name="answer_examples")
    question = models.TextField()
    source = models.TextField(blank=True,
                              help_text="A passage the example answer cites as [1] (optional).")
    answer = models.TextField(help_text="The answer as it should be written, citing [1].")
    position = models.PositiveIntegerField(default=0, help_text="Examples are shown in "
                                                                "this order.")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.question[:80]


class Document(models.Model):
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE,
                                       related_name="documents")
    title = models.CharField(max_length=500)
    original_name = models.CharField(max_length=255)
    detected_type = models.CharField(max_length=20, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    # Content-addressed path of the original file, relative to the data dir.
    stored_path = models.CharField(max_length=300)
    version = models.PositiveIntegerField(default=1)
    # The document this one is a newer version of; it is deleted when this one is indexed.
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    status = models.CharField(max_length=12, choices=DocumentStatus.choices,
                              default=DocumentStatus.QUEUED, db_index=True)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0 to 1 within the whole job")
    error = models.TextField(blank=True)
    # The reason of `error` for machines (e.g. parse_time_limit): what doors translate.
    error_code = models.CharField(max_length=40, blank=True, choices=FailureCode.choices)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    indexed_at = models.DateTimeField(null=True, blank=True)
    # Letters of its sampled text per language (textproc.language.LanguageProfile).
    language_profile = models.JSONField(default=dict, blank=True)
    # The worker processing the document owns it until then, and renews it as it goes;
    # past it, the sweep hands the document to another worker.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["knowledge_base", "title"]
        indexes = [models.Index(fields=["knowledge_base", "sha256"]),
                   models.Index(fields=["status", "updated_at"])]
        constraints = [
            # One live document per content in a knowledge base, whatever door the file
            # came through and however close together (services.add_document). A failed
            # one may be uploaded again; a file never stored (too large) has no hash.
            models.UniqueConstraint(
                fields=["knowledge_base", "sha256"], name="document_content_unique",
                condition=~models.Q(status=DocumentStatus.FAILED) & ~models.Q(sha256="")),
        ]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    # Denormalised so search can filter by knowledge base without a join.
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE,
                                       related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    page_start = models.PositiveIntegerField(null=True, blank=True)
    page_end = models.PositiveIntegerField(null=True, blank=True)
    heading_path = models.JSONField(default=list, blank=True)
    # [offset in text, page, heading path] where each page, slide or section starts in
    # the text (ingestion.chunker.Location), so a citation names the quoted sentence's
    # page rather than page_start.
    locations = models.JSONField(default=list, blank=True)
    # Span in the document's extracted text, so a citation can highlight the passage.
    char_start = models.PositiveIntegerField()
    char_end = models.PositiveIntegerField()
    token_count = models.PositiveIntegerField()
    # float32 vector bytes; null until the embedding stage has run.
    embedding = models.BinaryField(null=True, blank=True)
    # The vector from the knowledge base's pending_embedding_model while a re-embedding
    # runs; moved into `embedding` at the swap.
    next_embedding = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_ordinal_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.document} #{self.ordinal}"

    def vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.embedding), dtype=np.float32)


class IngestionAttempt(models.Model):
    """One run of the ingestion task on a document: when, where, how long, and why not."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="attempts")
    task_id = models.CharField(max_length=255, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stage_seconds = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.document} at {self.started_at:%Y-%m-%d %H:%M}"


class WebhookEvent(models.TextChoices):
    DOCUMENT_INDEXED = "document.indexed", "Document indexed"
    DOCUMENT_FAILED = "document.failed", "Document failed"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # before its first attempt, or between two
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"  # gave up after the last attempt


class WebhookDelivery(models.Model):
    """One event for a knowledge base's webhook and how sending it went: the log admins
    read when a receiver says it heard nothing."""

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE,
                                       related_name="webhook_deliveries")
    # Kept when the document goes (a replaced version): the log outlives it.
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="webhook_deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField()
    # Where the last attempt went (the knowledge base's URL may change between attempts).
    url = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=12, choices=DeliveryState.choices,
                             default=DeliveryState.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"


class IndexRemoval(models.Model):
    """Chunks to take out of a knowledge base's index files (or, with chunk_ids null, the
    whole index of a deleted knowledge base). Written in the transaction that deletes the
    rows and removed once the index files are changed: a process that dies in between
    leaves this row, and the reconciler finishes the work (indexing.apply_removals)."""

    index_key = models.CharField(max_length=100)
    chunk_ids = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.index_key}: {'all' if self.chunk_ids is None else len(self.chunk_ids)}"
