"""Idempotent requests: what the first request sent with an `Idempotency-Key` answered,
so the same key and body never act twice (citewise.api.idempotency)."""

from __future__ import annotations

from django.db import models


class IdempotentRequest(models.Model):
    # Kept as long as the API key: a key's Idempotency-Keys are never reused for another
    # body, however late the retry.
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.CASCADE,
                                related_name="idempotent_requests")
    key = models.CharField(max_length=255)
    # sha256 hex of what the request asked for (idempotency.fingerprint).
    fingerprint = models.CharField(max_length=64)
    # The first response. Empty only inside the transaction that claimed the key, which
    # fills them before it commits: no other request ever reads them empty.
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"],
                                               name="idempotency_key_once_per_api_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"
