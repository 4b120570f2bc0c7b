"""Fixtures of the API tests (tests/integration/api_support.py) and the live server
(tests/integration/live_server.py)."""

from tests.integration.api_support import kb_a, kb_b, owner  # noqa: F401
from tests.integration.live_server import server  # noqa: F401
