"""Fixtures of the API tests (tests/integration/api_support.py), for test_api_*.py."""

from tests.integration.api_support import kb_a, kb_b, owner  # noqa: F401
