"""API: REST v1 and the OpenAI-compatible endpoints."""
