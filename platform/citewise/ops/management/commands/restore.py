"""`manage.py restore PATH [--force]`: replace this instance's database and original files
with a backup written by `manage.py backup`, then rebuild the indexes. Stop the web
server and the workers first. Refuses an instance that holds anything unless --force;
a damaged backup changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from citewise.ops.backup import BackupError
from citewise.ops.restore import restore_backup


class Command(BaseCommand):
    help = "Restore a backup written by `manage.py backup` into this instance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the backup file")
        parser.add_argument("--force", action="store_true",
                            help="replace this instance's contents even if it holds some")

    def handle(self, *args: Any, path: Path, force: bool, **options: Any) -> None:
        try:
            summary = restore_backup(path.expanduser().resolve(), self.stdout.write,
                                     force=force)
        except BackupError as error:
            raise CommandError(f"{error} [{error.code}]") from None
        counts = ", ".join(f"{n} {label.replace('_', ' ')}"
                           for label, n in summary.counts.items())
        self.stdout.write(self.style.SUCCESS(
            f"Restored {counts} from {path} in {summary.seconds:.1f} s."))
