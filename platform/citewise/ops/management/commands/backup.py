"""`manage.py backup PATH`: write a backup of this instance (database and original files)
to a new file PATH; `manage.py restore PATH` restores it. See docs/operations.md#backups
and citewise/ops/backup.py for what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from citewise.ops.backup import BackupError, create_backup


class Command(BaseCommand):
    help = "Back up the database and the data directory's original files to one file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the backup file to write (must not exist)")

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        try:
            summary = create_backup(path.expanduser().resolve(), self.stdout.write)
        except BackupError as error:
            raise CommandError(f"{error} [{error.code}]") from None
        self.stdout.write(self.style.SUCCESS(
            f"Backup written to {path}: {summary.files} files, {summary.size / 1e6:.1f} MB "
            f"in {summary.seconds:.1f} s."))
