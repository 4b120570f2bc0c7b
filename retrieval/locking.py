"""One writer per knowledge base, across processes and threads.

The lock file lives in root/.locks/, outside the index folder, so deleting or rebuilding
an index folder can never delete the lock another process is holding (paperless-ngx hit
exactly that). flock locks are released by the kernel when a process dies, so a crashed
worker never leaves a knowledge base locked.

Re-entrant within a thread, so a task can hold the lock around updating both the vector
and the lexical index while each store's own write methods take it again.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from retrieval.errors import LockTimeout

# Per lock-file state shared by every KbLock object in this process: flock is per open
# file description, so a second open() of the same file in this process would deadlock.
_registry_guard = threading.Lock()
_thread_locks: dict[Path, threading.RLock] = {}
_held: dict[Path, tuple[int, int]] = {}  # path -> (fd, depth)


class KbLock:
    """Exclusive write lock for one knowledge base: `with KbLock(root, kb_key): ...`."""

    def __init__(self, root: Path, kb_key: str, *, timeout: float = 600.0) -> None:
        self.path = (Path(root) / ".locks" / f"{kb_key}.lock").resolve()
        self.timeout = timeout

    def acquire(self) -> None:
        with _registry_guard:
            thread_lock = _thread_locks.setdefault(self.path, threading.RLock())
        if not thread_lock.acquire(timeout=self.timeout):
            raise LockTimeout(f"{self.path} held by another thread longer than {self.timeout}s")
        try:
            fd, depth = _held.get(self.path, (-1, 0))
            if depth == 0:
                fd = self._flock()
            _held[self.path] = (fd, depth + 1)
        except BaseException:
            thread_lock.release()
            raise

    def _flock(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(f"{self.path} held longer than {self.timeout}s") from None
                time.sleep(0.05)

    def release(self) -> None:
        fd, depth = _held[self.path]
        if depth == 1:
            del _held[self.path]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        else:
            _held[self.path] = (fd, depth - 1)
        _thread_locks[self.path].release()

    def __enter__(self) -> KbLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
