"""Parsing under a per-document time and memory limit.

A crafted or pathological file (deeply nested HTML, a PDF whose content stream loops, a
decompression bomb the size checks cannot see) must fail alone, with a reason, instead
of holding a worker's CPU for minutes or exhausting its memory. So each parse runs in a
child process of its own whose address space is capped with RLIMIT_AS, and the parent
kills it, with what it started (OCR), at the deadline. The memory cap needs Linux (macOS
refuses RLIMIT_AS; there only the deadline applies); POSIX for the process group.

The children are forked from a small server process (multiprocessing's "forkserver")
that has imported the parsers once. Not forked from the worker itself: it carries the
embedding model's gigabytes of address space, which a memory cap on the child would have
to exceed. Not fresh interpreters either: starting one and importing the parsers cost
about 0.3 CPU-s per document, several times what parsing a typical web page costs
(benchmarks/RESULTS.md, "Ingestion against the do-it-yourself pipeline"). As with any
multiprocessing child not forked from its parent, each runs the parent's main script
again as `__mp_main__` unless that was started with `-m`: entry scripts stay guarded
(`if __name__ == "__main__"`) and light in imports, as manage.py is.

Only this module's own children send what the parent unpickles.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import AuthenticationString  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from ingestion.blocks import ParsedDocument
from ingestion.errors import IngestionError, ParseMemoryLimit, ParserCrashed, ParseTimeLimit
from ingestion.parse import PARSERS
from ingestion.safety import DEFAULT_MAX_BYTES

_MB = 1024 * 1024
HEARTBEAT_SECONDS = 30.0
# A child that ran out of memory where it could not say so (while sending its result).
_MEMORY_EXIT = 3
# Imported once by the fork server, so that no child imports them again: the parsers,
# and the libraries they import when first called (the worker itself never loads them).
_PRELOAD = ["ingestion.parse", *sorted({f"ingestion.parsers.{m}" for m, _, _ in PARSERS.values()}),
            "bs4", "lxml.etree", "lxml.html", "docx", "pptx", "openpyxl", "pypdf",
            "charset_normalizer", "PIL.Image", "yaml"]
_FORKS = multiprocessing.get_context("forkserver")


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
    HEARTBEAT_SECONDS while the child works (the worker renews its lease with it).
    Safe to call from several threads at once (one child each)."""
    parsed: ParsedDocument = run_bounded(_parse, (str(Path(path).resolve()), filename, max_bytes),
                                         limits=limits or ParseLimits(), heartbeat=heartbeat)
    return parsed


def run_bounded(function: Callable[..., Any], args: tuple[Any, ...], *, limits: ParseLimits,
                heartbeat: Callable[[], None] | None = None) -> Any:
    """function(*args) in a child forked from the fork server, under `limits`: its return
    value, or the IngestionError it raised, or ParseTimeLimit / ParseMemoryLimit /
    ParserCrashed. `function` and `args` must pickle (a module-level function)."""
    _FORKS.set_forkserver_preload(_PRELOAD)  # read when the server starts (first call)
    _allow_children()
    receive, send = _FORKS.Pipe(duplex=False)
    child = _FORKS.Process(target=_child, args=(send, limits.memory_bytes, function, args),
                           daemon=True)
    with receive:
        with send:  # the parent's copy of the sending end: closed, so EOF means the child died
            child.start()
        outcome = _wait(child, receive, limits.seconds, heartbeat)
    child.join()
    exitcode = child.exitcode
    child.close()
    if outcome is None:
        if exitcode == _MEMORY_EXIT:
            raise _memory_limit_error(limits.memory_bytes)
        raise _crashed(exitcode)
    ok, value = outcome
    if ok:
        return value
    raise value if value is not None else _memory_limit_error(limits.memory_bytes)


@functools.cache
def _allow_children() -> None:
    """Celery's prefork pool (billiard) marks its processes daemonic, and multiprocessing
    then refuses them children, lest these outlive them. Ours cannot: each is killed at
    its deadline at the latest, and the fork server ends with the process that started
    it. Billiard also leaves its own authentication key, which multiprocessing refuses to
    send to the fork server: such a process gets a key of its own."""
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    config["daemon"] = False
    if not isinstance(config.get("authkey"), AuthenticationString):
        config["authkey"] = AuthenticationString(os.urandom(32))


def _wait(child: Any, receive: Connection, seconds: float,
          heartbeat: Callable[[], None] | None) -> tuple[bool, Any] | None:
    """What the child sent once it has ended, or None if it died without a word;
    ParseTimeLimit (the child and what it started killed) when it outlives `seconds`."""
    deadline = time.monotonic() + seconds
    while not receive.poll(max(0.0, min(deadline - time.monotonic(), HEARTBEAT_SECONDS))):
        if time.monotonic() >= deadline:
            _kill(child)
            raise _time_limit_error(seconds)
        if heartbeat is not None:
            heartbeat()
    try:
        outcome: tuple[bool, Any] = receive.recv()
    except (EOFError, OSError):
        return None
    return outcome


def _kill(child: Any) -> None:
    """The child and its session (what it started), killed and waited for."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)  # its own session, unless it has not made it yet
    child.kill()
    child.join()


def _time_limit_error(seconds: float) -> ParseTimeLimit:
    return ParseTimeLimit(
        f"Reading this file took longer than the {seconds:g} s limit per document, so it "
        "was stopped. Split it into smaller files, simplify it (for example save it again "
        "from the program that made it), or ask an administrator to raise "
        "CITEWISE_PARSE_TIMEOUT_SECONDS."
    )


def _crashed(exitcode: int | None) -> ParserCrashed:
    return ParserCrashed(
        f"The program reading this file stopped unexpectedly (exit status {exitcode}), "
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


def _parse(path: str, filename: str, max_bytes: int) -> ParsedDocument:
    from ingestion.parse import parse_document

    return parse_document(Path(path), filename, max_bytes=max_bytes)


def _child(send: Connection, memory_bytes: int, function: Callable[..., Any],
           args: tuple[Any, ...]) -> None:
    import resource

    # A session of its own, so the deadline also ends what the parser started (OCR).
    os.setsid()
    # What parsers print or log is not for anyone here (as before, when the child's
    # output was read only for its result).
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
    # macOS refuses RLIMIT_AS below its reservation: there the deadline alone holds.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        try:
            outcome: tuple[bool, Any] = (True, function(*args))
        except IngestionError as error:
            outcome = (False, error)
        except MemoryError:
            outcome = (False, None)
        send.send(outcome)
    except MemoryError:
        os._exit(_MEMORY_EXIT)
