"""Restore a backup written by ops/backup.py into this instance (`manage.py restore`).

Steps, in this order so that a failure before step 4 changes nothing:
1. refuse a target that holds users, knowledge bases, documents or originals, unless
   forced;
2. extract every member into a staging folder inside the data directory, hashing it;
3. check the manifest (present, this format, this database engine) and every member's
   size and SHA-256 against it;
4. replace the database in one transaction (ops/database_copy.py);
5. put the originals in their storage (the data directory or the S3 bucket: the ones
   the backup lacks go), move the secret key into place and remove derived files;
6. migrate (a backup of an older version), rebuild every index from the stored
   embeddings, and check the restored row counts against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management import call_command

from citewise.knowledge import storage
from citewise.ops import database_copy
from citewise.ops.backup import (
    DERIVED,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    SECRET_KEY_FILE,
    BackupError,
    Progress,
    Summary,
)

# Member names a backup may hold; anything else (a path outside the data directory, a
# link) is refused before it is written anywhere.
_MEMBER = re.compile(r"database\.(sqlite3|pgdump)|data/secret_key"
                     r"|data/originals/[0-9a-f]{2}/[0-9a-f]{64}")
_MANIFEST_MAX_BYTES = 64 << 20
_CHUNK = 1 << 20


def restore_backup(source: Path, progress: Progress, *, force: bool) -> Summary:
    """Replace this instance's database and original files with the backup at `source`.
    Raises BackupError (the instance unchanged) for a missing, damaged, truncated or
    mismatched backup and for a non-empty instance without `force`."""
    started = time.monotonic()
    _refuse_non_empty(force=force)
    data_dir = Path(settings.DATA_DIR)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as scratch:
        staging = Path(scratch)
        manifest, size = _stage(source, staging, progress)
        progress(f"Backup of {manifest['created_at']} checked: {len(manifest['files'])} "
                 f"files, Citewise {manifest['citewise_version']}.")
        progress("Restoring the database...")
        try:
            database_copy.restore(staging / manifest["database"]["file"])
        except database_copy.DatabaseCopyError as error:
            raise BackupError(str(error), code=error.code) from None
        _move_data_files(staging, data_dir)
    progress("Bringing the database schema up to date...")
    call_command("migrate", interactive=False, verbosity=0)
    _rebuild_indexes(progress)
    _check_counts(manifest["counts"])
    return Summary(manifest["counts"], len(manifest["files"]), size,
                   time.monotonic() - started)


def _originals_count() -> int:
    return sum(1 for _name in storage.original_names())


def _refuse_non_empty(*, force: bool) -> None:
    counts = database_copy.current_counts()
    held = {label: counts[label] for label in database_copy.CONTENT_LABELS if counts[label]}
    originals = _originals_count()
    if originals:
        held["original files"] = originals
    if held and not force:
        what = ", ".join(f"{n} {label.replace('_', ' ')}" for label, n in held.items())
        raise BackupError(
            f"This instance is not empty: it holds {what}. A restore replaces all of it. "
            "Restore into a new database and an empty data directory, or run again with "
            "--force to replace this instance's contents.", code="restore_target_not_empty")


def _copy_hashing(source: IO[bytes], target: Path) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        while block := source.read(_CHUNK):
            digest.update(block)
            size += len(block)
            out.write(block)
    return {"size": size, "sha256": digest.hexdigest()}


def _stage(source: Path, staging: Path, progress: Progress) -> tuple[dict[str, Any], int]:
    """Extract and check the backup; returns its manifest and the file's size."""
    if not source.is_file():
        raise BackupError(f"{source}: no such file.", code="backup_not_found")
    progress(f"Reading {source} ({source.stat().st_size / 1e6:.1f} MB)...")
    try:
        with tarfile.open(source, "r:") as archive:
            staged, manifest_bytes = _extract(archive, staging)
    except tarfile.TarError as error:
        raise BackupError(
            f"{source} is damaged or cut short ({error}); nothing was changed. Use another "
            "backup, or check that the file was copied completely.",
            code="backup_damaged") from None
    if manifest_bytes is None:
        raise BackupError(
            f"{source} has no manifest: the backup did not finish or the file was cut "
            "short; nothing was changed. Use another backup.", code="backup_incomplete")
    manifest = _read_manifest(manifest_bytes, source)
    _check_members(manifest, staged, source)
    return manifest, source.stat().st_size


def _extract(archive: tarfile.TarFile,
             staging: Path) -> tuple[dict[str, dict[str, Any]], bytes | None]:
    staged: dict[str, dict[str, Any]] = {}
    manifest_bytes = None
    for member in archive:
        reader = archive.extractfile(member) if member.isfile() else None
        if reader is None or not (member.name == MANIFEST or _MEMBER.fullmatch(member.name)):
            raise BackupError(f"The backup holds an unexpected entry {member.name!r}; it "
                              "was not written by Citewise. Nothing was changed.",
                              code="backup_unexpected_member")
        if member.name == MANIFEST:
            manifest_bytes = reader.read(_MANIFEST_MAX_BYTES)
            continue
        target = staging / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        staged[member.name] = _copy_hashing(reader, target)
    return staged, manifest_bytes


def _read_manifest(data: bytes, source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise BackupError(f"The manifest of {source} is not valid JSON; nothing was changed.",
                          code="backup_damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is not a Citewise backup.", code="backup_unreadable")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BackupError(f"{source} was written by a newer Citewise "
                          f"({manifest.get('citewise_version')}); upgrade this one first.",
                          code="backup_too_new")
    engine, here = manifest["database"]["engine"], database_copy.engine()
    if engine != here:
        raise BackupError(f"{source} holds a {engine} database, but this instance uses "
                          f"{here}. Restore it into an instance on {engine}.",
                          code="backup_engine_mismatch")
    return manifest


def _check_members(manifest: dict[str, Any], staged: dict[str, dict[str, Any]],
                   source: Path) -> None:
    expected: dict[str, Any] = manifest["files"]
    missing = sorted(set(expected) - set(staged))
    damaged = sorted(name for name, facts in staged.items() if expected.get(name) != facts)
    if missing or damaged:
        names = ", ".join((missing + damaged)[:5])
        raise BackupError(
            f"{source} is damaged: {len(missing)} files missing and {len(damaged)} differing "
            f"from their checksum ({names}); nothing was changed. Use another backup.",
            code="backup_damaged")


def _move_data_files(staging: Path, data_dir: Path) -> None:
    """Put the staged originals in storage and delete those the backup lacks; swap the
    staged secret key in and remove derived files (through the staging folder, which is
    deleted afterwards)."""
    staged_data = staging / "data"
    restored = {path.relative_to(staged_data).as_posix()
                for path in (staged_data / storage.FOLDER).glob("*/*")}
    for name in sorted(restored):
        storage.put_original(name, staged_data / name)
    for name in set(storage.original_names()) - restored:
        storage.delete_original(name)
    replaced = staging / "replaced"
    replaced.mkdir()
    for name in (SECRET_KEY_FILE, *DERIVED):
        current = data_dir / name
        if current.exists():
            current.replace(replaced / name)
    if (staged_data / SECRET_KEY_FILE).exists():
        (staged_data / SECRET_KEY_FILE).replace(data_dir / SECRET_KEY_FILE)
    shutil.rmtree(replaced)


def _rebuild_indexes(progress: Progress) -> None:
    from citewise.knowledge.indexing import rebuild_indexes
    from citewise.knowledge.models import KnowledgeBase

    for knowledge_base in KnowledgeBase.objects.order_by("pk"):
        count = rebuild_indexes(knowledge_base)
        progress(f"Index of {knowledge_base.slug} rebuilt: {count} chunks.")


def _check_counts(expected: dict[str, int]) -> None:
    restored = database_copy.current_counts()
    differing = {label: (n, restored.get(label)) for label, n in expected.items()
                 if restored.get(label) != n}
    if differing:
        raise BackupError("The restored database differs from the backup's manifest "
                          f"(label: backed up, restored): {differing}.",
                          code="restore_counts_differ")
