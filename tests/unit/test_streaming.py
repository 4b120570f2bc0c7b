"""The event pump behind the chat's stream: heartbeats while the model is silent, and a
reader that goes away stops the generator even when events are waiting for it."""

from __future__ import annotations

import asyncio
import threading
import time

from citewise.chat.streaming import EventPump
from tests.helpers import run_alone


def slow_events(pieces: int, pause: float, produced: list[int], closed: threading.Event):
    try:
        for piece in range(pieces):
            produced.append(piece)
            yield piece
            time.sleep(pause)
    finally:
        closed.set()


def test_a_silent_model_gets_heartbeats_between_events():
    async def read() -> list:
        pump = EventPump(slow_events(2, 0.35, [], threading.Event()))
        return [item async for item in pump.events(heartbeat=0.1)]

    items = run_alone(read())
    assert [item for item in items if item is not None] == [0, 1]
    assert None in items[items.index(0):items.index(1)]  # while the model was silent


def test_a_reader_that_leaves_with_events_queued_stops_the_generator():
    """Django cancels the response when the client goes. On Python 3.11 a cancellation
    that met an already available event used to be dropped (asyncio.wait_for), and the
    whole answer was generated for nobody."""
    produced: list[int] = []
    closed = threading.Event()

    async def leave_after_first_event() -> None:
        pump = EventPump(slow_events(1000, 0.005, produced, closed))
        first_seen = asyncio.Event()

        async def send_all() -> None:  # as Django's send_response: send never waits
            async for _ in pump.events():
                if not first_seen.is_set():
                    await asyncio.sleep(0.2)  # a slow network; more events queue up
                    first_seen.set()

        reader = asyncio.create_task(send_all())
        await first_seen.wait()
        reader.cancel()
        cancelled = await asyncio.gather(reader, return_exceptions=True)
        assert isinstance(cancelled[0], asyncio.CancelledError)
        await asyncio.wait_for(pump.finished(), timeout=5)

    run_alone(leave_after_first_event())
    assert closed.is_set() and len(produced) < 200
