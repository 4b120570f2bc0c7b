"""The locally generated SECRET_KEY: made once, kept in the data dir, readable by its owner only."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def load_or_create_secret_key(path: Path) -> str:
    # O_EXCL: when the web server and the worker start together, exactly one creates the
    # file; the other reads what it wrote (waiting a moment if it is still being written).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_existing(path)
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def _read_existing(path: Path) -> str:
    for _ in range(50):
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
        time.sleep(0.05)
    raise RuntimeError(f"{path} is empty: delete it to have a new secret key generated")
