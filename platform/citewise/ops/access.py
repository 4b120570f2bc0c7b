"""Which client addresses may read operational detail (/metrics, readiness details)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def is_operator_address(request: HttpRequest) -> bool:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a proxy rewrites it,
    # so trusting it would let anyone read the metrics.
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if client in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False
