"""Copy the whole database to a file and back, one engine at a time (used by backups).

SQLite: the sqlite3 online backup API, which copies a consistent snapshot while the
web server and workers keep running, and writes the restored copy in one step.
PostgreSQL: `pg_dump --format=custom` and `pg_restore` (the postgresql-client package,
version at least the server's). Why not Django's dumpdata: it reads table by table
(no single snapshot), holds the whole dump in memory, and writes embeddings as base64
JSON, about 3x the size; pg_dump is the tool PostgreSQL operators already trust.

Each dump comes with the row counts of COUNTED_MODELS read from the same snapshot, so a
restore can prove it restored what was backed up.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction

# What a manifest counts: label -> model. Users, knowledge and conversations are what an
# operator recognises; chunks prove the embeddings came along.
COUNTED_MODELS = {
    "users": "auth.User",
    "knowledge_bases": "knowledge.KnowledgeBase",
    "documents": "knowledge.Document",
    "chunks": "knowledge.Chunk",
    "conversations": "chat.Conversation",
    "messages": "chat.Message",
    "citations": "chat.Citation",
}
# A target holding rows in any of these is not empty (restoring would replace them).
CONTENT_LABELS = ("users", "knowledge_bases", "documents")


class DatabaseCopyError(Exception):
    """The dump or restore tool failed or is missing; `code` is machine-readable."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def engine() -> str:
    """'sqlite' or 'postgresql' (the only engines Citewise supports)."""
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise DatabaseCopyError(f"Backups support SQLite and PostgreSQL, not {vendor}.",
                                code="backup_engine_unsupported")
    return vendor


def dump_file_name() -> str:
    return {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}[engine()]


def _tables() -> dict[str, str]:
    return {label: apps.get_model(name)._meta.db_table
            for label, name in COUNTED_MODELS.items()}


def count_rows(execute: Callable[[str], Any], existing: set[str] | None = None,
               ) -> dict[str, int]:
    """Row counts per COUNTED_MODELS label; `execute(sql)` returns the first value of
    the query's row. Tables not in `existing` (when given) count as 0."""
    return {label: int(execute(f'SELECT COUNT(*) FROM "{table}"'))  # noqa: S608 (model tables)
            if existing is None or table in existing else 0
            for label, table in _tables().items()}


def current_counts() -> dict[str, int]:
    """Counts in the configured database (a database never migrated has no tables)."""
    with connection.cursor() as cursor:
        def execute(sql: str) -> int:
            cursor.execute(sql)
            return cursor.fetchone()[0]

        return count_rows(execute, set(connection.introspection.table_names()))


def dump(target: Path) -> dict[str, int]:
    """Write a snapshot of the database to `target`; returns its row counts."""
    if engine() == "sqlite":
        return _sqlite_dump(target)
    return _postgres_dump(target)


def restore(source: Path) -> None:
    """Replace the configured database's contents with the dump at `source`, all or
    nothing. Every other connection should be closed (web and workers stopped)."""
    connection.close()
    if engine() == "sqlite":
        _sqlite_restore(source)
    else:
        _postgres_restore(source)


def _sqlite_path() -> str:
    return str(settings.DATABASES["default"]["NAME"])


def _sqlite_dump(target: Path) -> dict[str, int]:
    with closing(sqlite3.connect(_sqlite_path())) as live, \
            closing(sqlite3.connect(target)) as copy:
        live.backup(copy)  # one step: a consistent snapshot under a read lock
        return count_rows(lambda sql: copy.execute(sql).fetchone()[0])


def _sqlite_restore(source: Path) -> None:
    # The copy is written in one step inside the destination's write transaction, so an
    # error leaves the database as it was.
    with closing(sqlite3.connect(source)) as copy, \
            closing(sqlite3.connect(_sqlite_path(), timeout=30)) as live:
        copy.backup(live)


def _postgres_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DatabaseCopyError(
            f"{name} is not installed. Install the PostgreSQL client tools (Debian: apt-get "
            "install postgresql-client), at least the server's version.",
            code="backup_tool_missing")
    return path


def _postgres_env() -> dict[str, str]:
    """libpq's variables for the configured database (a password never goes on the
    command line, where any user can read it)."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for variable, value in (("PGHOST", db.get("HOST")), ("PGPORT", db.get("PORT")),
                            ("PGUSER", db.get("USER")), ("PGPASSWORD", db.get("PASSWORD")),
                            ("PGDATABASE", db.get("NAME")),
                            ("PGSSLMODE", db.get("OPTIONS", {}).get("sslmode"))):
        if value:
            env[variable] = str(value)
    return env


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, env=_postgres_env(), capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise DatabaseCopyError(f"{what} failed: {result.stderr.strip()[-2000:]}",
                                code="backup_database_failed")


def _postgres_dump(target: Path) -> dict[str, int]:
    pg_dump = _postgres_tool("pg_dump")
    # The counts and the dump read one snapshot: this transaction exports it and stays
    # open (REPEATABLE READ) until pg_dump has read it.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]

        def execute(sql: str) -> int:
            cursor.execute(sql)
            return cursor.fetchone()[0]

        counts = count_rows(execute)
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
              f"--snapshot={snapshot}", f"--file={target}"], "pg_dump")
    return counts


def _postgres_restore(source: Path) -> None:
    """pg_restore writes SQL that psql runs in one transaction, after dropping the
    tables the target has now: a failure rolls everything back."""
    pg_restore, psql = _postgres_tool("pg_restore"), _postgres_tool("psql")
    drops = "".join(f'DROP TABLE IF EXISTS "{table}" CASCADE;\n'
                    for table in connection.introspection.table_names())
    connection.close()
    # Notices ("drop cascades to ...") would fill psql's stderr pipe, read only at the end.
    env = {**_postgres_env(), "PGOPTIONS": "-c client_min_messages=warning"}
    with subprocess.Popen([psql, "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                           "--file=-"], env=env, stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as apply:
        assert apply.stdin is not None and apply.stderr is not None
        with suppress(BrokenPipeError):  # psql's exit status says why it stopped reading
            apply.stdin.write(drops.encode())
            apply.stdin.flush()
        script = subprocess.run([pg_restore, "--no-owner", "--no-privileges", "--file=-",
                                 str(source)], env=env, stdout=apply.stdin,
                                stderr=subprocess.PIPE, check=False)
        if script.returncode != 0:
            # psql commits its single transaction at the end of its input: it must die
            # before that, so the partial script rolls back.
            apply.kill()
        with suppress(BrokenPipeError):
            apply.stdin.close()
        errors = apply.stderr.read().decode(errors="replace")
    if script.returncode != 0 or apply.returncode != 0:
        detail = (script.stderr.decode(errors="replace") + errors).strip()[-2000:]
        raise DatabaseCopyError(f"Restoring the PostgreSQL dump failed (nothing was "
                                f"changed): {detail}", code="backup_database_failed")
