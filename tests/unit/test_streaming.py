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


def test_answers_beyond_the_process_limit_wait_for_a_slot(settings):
    """Fifty streams at once each embedded their sources together (2.2 GB in one web
    process); beyond CITEWISE_ANSWER_CONCURRENCY an answer waits, with heartbeats."""
    from citewise.chat import streaming

    settings.ANSWER_CONCURRENCY = 2
    streaming.answer_slots.cache_clear()
    running, most = [0], [0]
    lock = threading.Lock()

    def answer(pieces: int):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            for piece in range(pieces):
                time.sleep(0.05)
                yield piece
        finally:
            with lock:
                running[0] -= 1

    async def read_all() -> list[list]:
        async def read(pump: EventPump) -> list:
            return [item async for item in pump.events(heartbeat=0.05) if item is not None]

        return await asyncio.gather(*(read(EventPump(answer(4))) for _ in range(5)))

    try:
        results = run_alone(read_all())
    finally:
        streaming.answer_slots.cache_clear()
    assert results == [[0, 1, 2, 3]] * 5  # every answer ran, in full
    assert most[0] == 2
