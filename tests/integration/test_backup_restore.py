"""A restored instance answers the same questions with the same citations, and a damaged
backup changes nothing (`manage.py backup` / `manage.py restore`, docs/operations.md).

Each instance is its own processes on its own data directory and database, as an
operator runs them: on SQLite always, and on PostgreSQL (two new databases on the
server of DATABASE_URL) when the suite runs on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.helpers import REPO_ROOT, clean_env

# The test's own documents, so edits to docs/ cannot change what it asks about.
DOCUMENTS = {
    "badges.md": "# Badges\n\nThe security desk disables a lost badge within one hour of the "
                 "report. A new badge is printed the next working day.\n",
    "parking.md": "# Parking\n\nParking permits are renewed every January at the front "
                  "office. Visitors park on level two of the garage.\n",
    "visitors.md": "# Visitors\n\nVisitors wear a red lanyard at all times in the "
                   "offices. A host meets every visitor at reception.\n",
}
QUESTIONS = [
    "Who disables a lost badge?",
    "When are parking permits renewed?",
    "What do visitors wear in the offices?",
    "What is the capital of Peru?",  # a refusal must survive the restore too
]


class Instance:
    """One Citewise instance: a data directory and a database URL (None: SQLite inside
    the data directory)."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.data_dir, self.database_url = data_dir, database_url
        data_dir.mkdir()

    def manage(self, *args: str | Path) -> subprocess.CompletedProcess:
        env = clean_env(CITEWISE_DATA_DIR=str(self.data_dir), HF_HUB_OFFLINE="1",
                        DJANGO_SETTINGS_MODULE="citewise.settings",
                        PYTHONPATH=f"{REPO_ROOT / 'platform'}{os.pathsep}{REPO_ROOT}")
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return subprocess.run([sys.executable, "manage.py", *map(str, args)], cwd=REPO_ROOT,
                              env=env, capture_output=True, text=True, timeout=900,
                              check=False)

    def ok(self, *args: str | Path) -> str:
        result = self.manage(*args)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def answers(self, questions_file: Path) -> list[dict]:
        lines = self.ok("ask", "--kb", "guide", "--questions", questions_file).splitlines()
        return [json.loads(line) for line in lines]

    def files(self) -> dict[str, str]:
        """Relative path -> SHA-256 of every file but the SQLite database (whose bytes
        change when a reader checkpoints its write-ahead log) and the generated static
        files."""
        return {p.relative_to(self.data_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.data_dir.rglob("*"))
                if p.is_file() and not p.name.startswith("citewise.sqlite3")
                and "static" not in p.relative_to(self.data_dir).parts}

    def counts(self) -> str:
        return self.ok("shell", "-c", "from citewise.ops.database_copy import current_counts; "
                                      "print(sorted(current_counts().items()))")


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_urls(request) -> Iterator[tuple[str | None, str | None]]:
    """(source, target) database URLs: None for SQLite, else two new databases."""
    if request.param == "sqlite":
        yield None, None
        return
    base = _postgres_url()
    if base is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    import psycopg

    parts = urlsplit(base)
    names = [f"{parts.path.lstrip('/')}_restore_{side}" for side in ("source", "target")]
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    yield tuple(urlunsplit(parts._replace(path=f"/{name}")) for name in names)
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _damaged_copies(backup: Path, folder: Path) -> dict[str, Path]:
    """A backup cut in half, and one with a byte of its database changed."""
    import tarfile

    data = backup.read_bytes()
    truncated = folder / "truncated.tar"
    truncated.write_bytes(data[:len(data) // 2])
    with tarfile.open(backup) as archive:
        database = next(m for m in archive.getmembers() if m.name.startswith("database."))
    flipped = bytearray(data)
    flipped[database.offset_data + database.size // 2] ^= 0xFF
    changed = folder / "changed.tar"
    changed.write_bytes(bytes(flipped))
    return {"truncated": truncated, "changed": changed}


@pytest.mark.slow
def test_a_restored_instance_answers_alike_and_a_damaged_backup_changes_nothing(
        tmp_path, database_urls):
    source_url, target_url = database_urls
    questions = tmp_path / "questions.txt"
    questions.write_text("\n".join(QUESTIONS) + "\n")
    source = Instance(tmp_path / "source", source_url)
    source.ok("migrate", "-v0")
    documents = tmp_path / "documents"
    documents.mkdir()
    for name, text in DOCUMENTS.items():
        (documents / name).write_text(text)
    source.ok("ingest", documents, "--kb", "guide", "--create", "--sync")
    before = source.answers(questions)
    assert [bool(a["citations"]) for a in before] == [True, True, True, False]

    backup = tmp_path / "citewise.backup"
    assert "Backup written" in source.ok("backup", backup)

    target = Instance(tmp_path / "target", target_url)  # a new database, no data dir files
    restored = target.ok("restore", backup)
    assert "Index of guide rebuilt" in restored
    files, counts = target.files(), target.counts()

    refused = target.manage("restore", backup)
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "[restore_target_not_empty]" in refused.stderr
    for kind, damaged in _damaged_copies(backup, tmp_path).items():
        result = target.manage("restore", "--force", damaged)
        assert result.returncode == 1, kind
        assert "nothing was changed" in result.stderr, (kind, result.stderr)
        assert target.files() == files, kind
    assert target.counts() == counts

    assert target.answers(questions) == before


@pytest.mark.parametrize("name", ["../outside", "/etc/citewise", "data/originals/../../x",
                                  "data/indexes/kb-1/vectors.json"])
def test_a_backup_naming_a_path_outside_its_layout_is_refused_before_anything_is_written(
        tmp_path, name):
    """A hand-made or tampered file cannot write outside the staging folder: names are
    checked against the backup's layout before any member is extracted."""
    import io
    import tarfile

    from citewise.ops.backup import BackupError
    from citewise.ops.restore import _stage

    hostile = tmp_path / "hostile.tar"
    with tarfile.open(hostile, "w") as archive:
        info = tarfile.TarInfo(name)
        info.size = 4
        archive.addfile(info, io.BytesIO(b"evil"))
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(BackupError) as refused:
        _stage(hostile, staging, lambda line: None)
    assert refused.value.code == "backup_unexpected_member"
    assert "Nothing was changed" in str(refused.value)
    assert not any(staging.iterdir())
    assert not (tmp_path / "outside").exists()
