"""Parsing under a per-document time and memory limit.

A crafted or pathological file (deeply nested HTML, a PDF whose content stream loops, a
decompression bomb the size checks cannot see) must fail alone, with a reason, instead
of holding a worker's CPU for minutes or exhausting its memory. So the parser runs in a
fresh child process (`python -m ingestion.bounded`) whose address space is capped with
RLIMIT_AS, and the parent kills it at the deadline. A fresh interpreter rather than a
fork: a forked worker carries the embedding model's gigabytes of address space, which a
memory cap on the child would have to exceed. The memory cap needs Linux (macOS
refuses RLIMIT_AS; there only the deadline applies); POSIX for the process group.

Protocol: the parent passes the arguments on the command line; the child writes one
pickled (ok, ParsedDocument | IngestionError) pair to stdout. Only this module's own
child writes what the parent unpickles.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingestion.blocks import ParsedDocument
from ingestion.errors import IngestionError, ParseMemoryLimit, ParserCrashed, ParseTimeLimit
from ingestion.safety import DEFAULT_MAX_BYTES

_MB = 1024 * 1024
HEARTBEAT_SECONDS = 30.0


@dataclass(frozen=True)
class ParseLimits:
    """Per-document limits: wall-clock `seconds` and `memory_bytes` of address space."""

    seconds: float = 300.0
    memory_bytes: int = 2048 * _MB


def parse_bounded(path: Path, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  limits: ParseLimits | None = None,
                  heartbeat: Callable[[], None] | None = None) -> ParsedDocument:
    """parse_document(path, filename) in a child process under `limits`. Raises what
    parse_document raises, plus ParseTimeLimit, ParseMemoryLimit and ParserCrashed
    (all IngestionError, each with its `code`). `heartbeat` is called every
    HEARTBEAT_SECONDS while the child works (the worker renews its lease with it)."""
    limits = limits or ParseLimits()
    command = [sys.executable, "-m", "ingestion.bounded", str(Path(path).resolve()),
               filename, str(max_bytes), str(limits.memory_bytes)]
    # The child imports the same code as this process (a checkout on sys.path wins over
    # an installed copy, as it does here).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    # A session of its own, so the deadline also ends what the parser started (OCR).
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          start_new_session=True) as child:
        stdout, stderr = _wait(child, limits.seconds, heartbeat)
    return _outcome(child.returncode, stdout, stderr, limits)


def _wait(child: subprocess.Popen, seconds: float,
          heartbeat: Callable[[], None] | None) -> tuple[bytes, bytes]:
    """The child's output once it ends; ParseTimeLimit (the child and what it started
    killed) when it outlives `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        try:
            # Waiting again after a timeout loses no output (subprocess documents it).
            return child.communicate(timeout=max(0.0, min(left, HEARTBEAT_SECONDS)))
        except subprocess.TimeoutExpired as exc:
            if time.monotonic() >= deadline:
                os.killpg(child.pid, signal.SIGKILL)
                child.communicate()
                raise _time_limit_error(seconds) from exc
            if heartbeat is not None:
                heartbeat()


def _time_limit_error(seconds: float) -> ParseTimeLimit:
    return ParseTimeLimit(
        f"Reading this file took longer than the {seconds:g} s limit per document, so it "
        "was stopped. Split it into smaller files, simplify it (for example save it again "
        "from the program that made it), or ask an administrator to raise "
        "CITEWISE_PARSE_TIMEOUT_SECONDS."
    )


def _outcome(returncode: int, stdout: bytes, stderr: bytes,
             limits: ParseLimits) -> ParsedDocument:
    """The child's parsed document, or the IngestionError it reported or died of."""
    if returncode == 0 and stdout:
        ok, value = pickle.loads(stdout)  # noqa: S301 - our own child wrote it
        if ok:
            return value
        raise value
    if b"MemoryError" in stderr:
        raise _memory_limit_error(limits.memory_bytes)
    raise ParserCrashed(
        f"The program reading this file stopped unexpectedly (exit status {returncode}), "
        "so it was not indexed; other files are not affected. "
        "Save a new copy from the program that made it and upload that; if it fails "
        "again, tell an administrator."
    )


def _memory_limit_error(memory_bytes: int) -> ParseMemoryLimit:
    return ParseMemoryLimit(
        f"Reading this file needs more than the {memory_bytes // _MB:,} MB of memory "
        "allowed per document, so it was stopped. Split it into smaller files, or ask an "
        "administrator to raise CITEWISE_PARSE_MEMORY_MB."
    )


def _child(path: str, filename: str, max_bytes: int, memory_bytes: int) -> None:
    import resource

    # macOS refuses RLIMIT_AS below its reservation: there the deadline alone holds.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    from ingestion.parse import parse_document

    try:
        outcome: tuple[bool, object] = (True, parse_document(Path(path), filename,
                                                             max_bytes=max_bytes))
    except IngestionError as error:
        outcome = (False, error)
    sys.stdout.buffer.write(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
