"""Chat: conversations, messages, citations, feedback and the ask service."""
