"""Per-key rate limits (ApiKey.rate_limit requests per minute), counted in Django's cache:
Redis when REDIS_URL is set, so every web process counts together. A refused request
gets 429 with Retry-After (DRF adds the header)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from citewise.accounts.models import ApiKey

WINDOW_SECONDS = 60


class PerKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def __init__(self) -> None:  # the rate is the key's, set per request
        pass

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        self.rate = f"{key.rate_limit}/min"
        self.num_requests, self.duration = key.rate_limit, WINDOW_SECONDS
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return f"citewise:api:rate:{request.auth.prefix}"
