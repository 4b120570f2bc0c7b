"""Accounts: users, groups and (later) API keys."""
