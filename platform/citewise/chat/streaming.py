"""The ask service's events as a Server-Sent Events stream, from an async view.

The ask service is a plain (sync) generator that reads the database and waits on the
model. It runs on a thread of its own, started per answer, and hands each event to the
event loop through an asyncio queue, so the loop serves other requests meanwhile, and a
long answer does not hold the one thread Django keeps for thread-sensitive sync code.

At most CITEWISE_ANSWER_CONCURRENCY answers run at once per process (`answer_slots`); a
stream beyond that waits for a slot, with heartbeats, before its answer starts. Each
answer embeds its sources' sentences, so fifty at once on one machine held fifty
embedding batches in memory together (2.2 GB, benchmarks/RESULTS.md "chat load").

Ending a stream always closes the generator on that same thread (a generator may only be
closed where it runs): the ask service then closes the model's request, which cancels
the generation, and stores the partial answer as stopped. A stream ends when the person
presses Stop (the stop flag, checked between events), or when the connection goes
(Django cancels the response's iterator; its `finally` raises the flag).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

HEARTBEAT_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
STOP_POLL_SECONDS = 0.2  # how often the shared stop flag is read while events flow

_END = object()


@functools.cache
def answer_slots() -> threading.BoundedSemaphore:
    """The process's answers running now, at most settings.ANSWER_CONCURRENCY."""
    return threading.BoundedSemaphore(settings.ANSWER_CONCURRENCY)


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One SSE message. JSON never holds a raw newline, so `data` is one line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


HEARTBEAT = b": keep-alive\n\n"


class EventPump:
    """Runs a sync event generator on its own thread and yields its events to async code.

    `stop_requested`: called on the thread between events (at most every
    STOP_POLL_SECONDS), for a Stop that arrived by another request.
    """

    def __init__(self, events: Iterator[Any], *,
                 stop_requested: Callable[[], bool] = lambda: False) -> None:
        self._events = events
        self._stop_requested = stop_requested
        self._stop = threading.Event()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="ask-stream", daemon=True)
        self.stopped = False  # the generator was closed before it finished

    def stop(self) -> None:
        self._stop.set()

    def _put(self, item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _should_stop(self, last_poll: list[float]) -> bool:
        if self._stop.is_set():
            return True
        now = time.monotonic()
        if now - last_poll[0] >= STOP_POLL_SECONDS:
            last_poll[0] = now
            if self._stop_requested():
                self._stop.set()
        return self._stop.is_set()

    def _wait_for_slot(self, last_poll: list[float]) -> bool:
        """Take an answer slot; False when the stream was stopped while waiting."""
        while not answer_slots().acquire(timeout=STOP_POLL_SECONDS):
            if self._should_stop(last_poll):
                return False
        return True

    def _run(self) -> None:
        last_poll = [time.monotonic()]
        if not self._wait_for_slot(last_poll):
            self.stopped = True
            self._events.close()  # never started: nothing to store
            self._put(_END)
            return
        close_old_connections()
        try:
            for event in self._events:
                self._put(event)
                if self._should_stop(last_poll):
                    self.stopped = True
                    break
        except Exception as error:
            self._put(error)
        finally:
            try:
                self._events.close()  # a no-op when it finished; else stores it as stopped
            finally:
                answer_slots().release()
                connections.close_all()  # this thread's own connections
                self._put(_END)

    async def events(self, *, heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[Any]:
        """The events, with None for each `heartbeat` seconds without one. Leaving the
        loop early (the client went) stops the generator; the thread still closes it."""
        self._thread.start()
        try:
            while True:
                try:
                    # Not asyncio.wait_for: on Python 3.11 it drops a cancellation that
                    # arrives when the item is already taken (CPython gh-86296), so a
                    # client that left while events were queued got the whole answer.
                    async with asyncio.timeout(heartbeat):
                        item = await self._queue.get()
                except TimeoutError:
                    yield None
                    continue
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._stop.set()

    async def finished(self) -> None:
        """Wait until the thread has closed the generator (and stored a stopped answer)."""
        await asyncio.to_thread(self._thread.join)
