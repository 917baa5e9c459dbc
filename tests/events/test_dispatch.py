"""EventDispatcher: callbacks (sync/async), iterators, filters, overflow, close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import pytest

from pexbot import events as ev
from pexbot.events.dispatch import EventDispatcher


def msg(i: int) -> ev.MessageReceived:
    return ev.MessageReceived(payload=str(i))


def payloads(events: list[ev.Event]) -> list[str]:
    return [e.payload for e in events if isinstance(e, ev.MessageReceived)]


async def test_sync_callback_runs_inline_in_order_and_unsubscribes() -> None:
    d = EventDispatcher()
    seen: list[ev.Event] = []
    sub = d.subscribe(seen.append)
    for i in range(3):
        d.publish(msg(i))
    assert payloads(seen) == ["0", "1", "2"]  # no await needed
    sub.unsubscribe()
    sub.unsubscribe()  # idempotent
    assert not sub.active
    d.publish(msg(3))
    assert len(seen) == 3
    await d.aclose()


async def test_subscription_as_context_manager() -> None:
    d = EventDispatcher()
    seen: list[ev.Event] = []
    with d.subscribe(seen.append):
        d.publish(msg(1))
    d.publish(msg(2))
    assert payloads(seen) == ["1"]
    await d.aclose()


async def test_name_filters_accept_enum_str_and_unknown_names() -> None:
    d = EventDispatcher()
    stage: list[ev.Event] = []
    unknown: list[ev.Event] = []
    d.subscribe(stage.append, names=[ev.EventName.STAGE, "layout"])
    d.subscribe(unknown.append, names=["brand_new"])
    d.publish(ev.StageChanged())
    d.publish(msg(1))
    d.publish(ev.UnknownEvent("brand_new", {}))
    d.publish(ev.UnknownEvent("other", {}))
    assert [ev.name_of(e) for e in stage] == ["stage"]
    assert [ev.name_of(e) for e in unknown] == ["brand_new"]
    await d.aclose()


async def test_async_callback_runs_in_order_one_at_a_time() -> None:
    d = EventDispatcher()
    seen: list[str] = []
    running = 0

    async def slow(event: ev.Event) -> None:
        nonlocal running
        running += 1
        assert running == 1
        await asyncio.sleep(0.001)
        assert isinstance(event, ev.MessageReceived)
        seen.append(event.payload)
        running -= 1

    d.subscribe(slow)
    for i in range(20):
        d.publish(msg(i))
    await d.aclose()  # drains
    assert seen == [str(i) for i in range(20)]


async def test_slow_async_callback_does_not_delay_others() -> None:
    d = EventDispatcher()
    gate = asyncio.Event()
    fast: list[ev.Event] = []

    async def stuck(event: ev.Event) -> None:
        await gate.wait()

    d.subscribe(stuck)
    d.subscribe(fast.append)
    it = d.stream()
    d.publish(msg(1))
    assert payloads(fast) == ["1"]
    got = await asyncio.wait_for(anext(it), 10)
    assert payloads([got]) == ["1"]
    gate.set()
    await d.aclose()


async def test_async_callable_object_and_sync_returning_awaitable() -> None:
    d = EventDispatcher()
    seen: list[str] = []

    class Handler:
        async def __call__(self, event: ev.Event) -> None:
            seen.append("object")

    def returns_awaitable(event: ev.Event) -> Awaitable[None]:
        async def later() -> None:
            seen.append("awaitable")

        return later()

    d.subscribe(Handler())
    d.subscribe(returns_awaitable)
    d.publish(msg(1))
    await d.aclose()
    assert sorted(seen) == ["awaitable", "object"]


async def test_raising_callbacks_are_logged_and_keep_their_subscription(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = EventDispatcher()
    calls = {"sync": 0, "async": 0}
    others: list[ev.Event] = []

    def bad_sync(event: ev.Event) -> None:
        calls["sync"] += 1
        raise RuntimeError("sync boom")

    async def bad_async(event: ev.Event) -> None:
        calls["async"] += 1
        raise RuntimeError("async boom")

    d.subscribe(bad_sync)
    d.subscribe(bad_async)
    d.subscribe(others.append)
    with caplog.at_level(logging.ERROR):
        d.publish(msg(1))
        d.publish(msg(2))
        await d.aclose()
    assert calls == {"sync": 2, "async": 2}
    assert payloads(others) == ["1", "2"]
    assert "sync boom" in caplog.text and "async boom" in caplog.text


async def test_iterator_receives_events_and_ends_on_close() -> None:
    d = EventDispatcher()
    it = d.stream(names=["message_received"])
    received: list[ev.Event] = []

    async def consume() -> None:
        async for event in it:
            received.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    d.publish(msg(1))
    d.publish(ev.StageChanged())
    d.publish(msg(2))
    await d.aclose()
    await asyncio.wait_for(task, 10)  # ended after draining what was queued
    assert payloads(received) == ["1", "2"] and len(received) == 2


async def test_iterator_overflow_drops_oldest_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    d = EventDispatcher()
    it = d.stream(maxsize=5)
    with caplog.at_level(logging.WARNING):
        for i in range(12):
            d.publish(msg(i))
    assert it.dropped == 7 and d.dropped == 7
    assert "not keeping up" in caplog.text
    got = [await anext(it) for _ in range(5)]
    assert payloads(got) == ["7", "8", "9", "10", "11"]
    await d.aclose()


async def test_async_callback_overflow_drops_oldest() -> None:
    d = EventDispatcher(callback_queue_size=3)
    gate = asyncio.Event()
    seen: list[str] = []

    async def slow(event: ev.Event) -> None:
        await gate.wait()
        assert isinstance(event, ev.MessageReceived)
        seen.append(event.payload)

    d.subscribe(slow)
    d.publish(msg(0))
    await asyncio.sleep(0.01)  # the worker picks up event 0 and blocks on the gate
    for i in range(1, 10):
        d.publish(msg(i))
    assert d.dropped == 6
    gate.set()
    await d.aclose()
    assert seen == ["0", "7", "8", "9"]


async def test_iterator_aclose_stops_it_and_detaches() -> None:
    d = EventDispatcher()
    async with d.stream() as it:
        d.publish(msg(1))
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    d.publish(msg(2))
    assert d.dropped == 0
    await d.aclose()


async def test_aclose_cancels_callbacks_that_do_not_drain(caplog: pytest.LogCaptureFixture) -> None:
    d = EventDispatcher()
    cancelled = asyncio.Event()

    async def forever(event: ev.Event) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    d.subscribe(forever)
    d.publish(msg(1))
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING):
        await d.aclose(drain_timeout=0.05)
    assert cancelled.is_set()
    assert "cancelled" in caplog.text
    await d.aclose()  # idempotent


async def test_unsubscribing_an_async_callback_cancels_its_worker() -> None:
    d = EventDispatcher()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever(event: ev.Event) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sub = d.subscribe(forever)
    d.publish(msg(1))
    await asyncio.wait_for(started.wait(), 10)
    sub.unsubscribe()
    await asyncio.wait_for(cancelled.wait(), 10)
    await d.aclose(drain_timeout=0.05)


async def test_after_close_publish_is_ignored_and_new_streams_end() -> None:
    d = EventDispatcher()
    seen: list[ev.Event] = []
    await d.aclose()
    d.subscribe(seen.append)
    d.publish(msg(1))
    assert seen == [] and d.closed
    with pytest.raises(StopAsyncIteration):
        await anext(d.stream())


async def test_dispatchers_share_nothing() -> None:
    a, b = EventDispatcher(), EventDispatcher()
    seen_a: list[ev.Event] = []
    seen_b: list[ev.Event] = []
    a.subscribe(seen_a.append)
    b.subscribe(seen_b.append)
    it_b = b.stream(maxsize=1)
    a.publish(msg(1))
    a.publish(msg(2))
    assert payloads(seen_a) == ["1", "2"] and seen_b == []
    assert it_b.dropped == 0
    await a.aclose()
    b.publish(msg(3))
    assert payloads(seen_b) == ["3"]
    await b.aclose()


async def test_callback_that_publishes_reentrantly() -> None:
    d = EventDispatcher()
    seen: list[str] = []

    def echo(event: ev.Event) -> None:
        if isinstance(event, ev.MessageReceived):
            seen.append(event.payload)
            if event.payload == "1":
                d.publish(msg(2))

    d.subscribe(echo)
    d.publish(msg(1))
    assert seen == ["1", "2"]
    await d.aclose()
