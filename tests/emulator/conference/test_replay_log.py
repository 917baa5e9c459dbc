"""The emulator's replay log and the bus's streams, without sockets: what a reconnect with
``Last-Event-ID`` is sent, and when it must re-sync instead."""

from __future__ import annotations

import asyncio

import pytest

from pexbot.emulator.conference.events import ChannelClosed, EventBus, EventChannel
from pexbot.emulator.conference.replay import ReplayLog
from pexbot.events.sse import SseParser


def ids(frames: list[bytes] | None) -> list[str]:
    assert frames is not None
    parser = SseParser()
    return [e.id for f in frames for e in parser.feed(f)]


def test_ids_number_each_event_and_replay_gives_exactly_what_followed() -> None:
    log = ReplayLog("p.1", 4)
    got = [log.append("stage", {"n": n})[0] for n in range(6)]
    assert got == [f"p.1:{n}" for n in range(1, 7)]
    assert ids(log.since("p.1:4")) == ["p.1:5", "p.1:6"]
    assert log.since("p.1:6") == []
    # overlap repeats what the log still has before the id (2 is already gone)
    assert ids(log.since("p.1:3", overlap=2)) == ["p.1:3", "p.1:4", "p.1:5", "p.1:6"]


@pytest.mark.parametrize(
    "last_id",
    ["p.1:1", "p.1:7", "p.2:3", "MTAuNDQuOTkuMl8xOA==", "", "p.1:x"],
    ids=["fell-out", "future", "other-stream", "opaque", "empty", "junk"],
)
def test_replay_refused_when_the_log_cannot_give_everything(last_id: str) -> None:
    log = ReplayLog("p.1", 4)
    for n in range(6):
        log.append("stage", n)
    assert log.since(last_id) is None


def test_lost_events_and_a_forgotten_log_refuse_replay() -> None:
    log = ReplayLog("p.1", 10)
    log.append("a", 1)
    log.lose_next(1)
    assert log.append("b", 2)[1] is None
    log.append("c", 3)
    assert log.since("p.1:1") is None and ids(log.since("p.1:2")) == ["p.1:3"]
    assert log.lost == 1
    log.forget()
    log.append("d", 4)
    assert log.since("p.1:3") is None


def test_limit_zero_always_resyncs() -> None:
    log = ReplayLog("p.1", 0)
    log.append("a", 1)
    assert log.since("p.1:1") is None


async def drain(channel: EventChannel) -> list[str]:
    parser = SseParser()
    out: list[str] = []
    while (frame := await channel.get(0.01)) is not None:
        out += [f"{e.event}@{e.id}" for e in parser.feed(frame)]
    return out


async def test_bus_logs_while_no_connection_is_open_and_resumes() -> None:
    bus = EventBus(queue_size=100, log_limit=100, replay_limit=8)
    first, resumed = bus.open("aaaaaaaa-1")
    assert not resumed
    bus.send_to(first, "participant_sync_begin", None)
    bus.send("aaaaaaaa-1", "stage", [])
    seen = await drain(first)
    last = seen[-1].split("@")[1]
    first.close("drop")
    bus.detach(first)
    bus.send("aaaaaaaa-1", "layout", {})  # while down: logged
    again, resumed = bus.open("aaaaaaaa-1", last)
    assert resumed and bus.resumed == 1 and bus.frames_replayed == 1
    assert await drain(again) == [f"layout@{last.rsplit(':', 1)[0]}:3"]
    # an unknown id: a new stream (whose first events the caller sends: the sync)
    fresh, resumed = bus.open("aaaaaaaa-1", "nope:1")
    assert not resumed and bus.refused == 1 and fresh.stream is not again.stream
    bus.send("aaaaaaaa-1", "stage", [])  # both streams are carried: both get it, numbered
    assert [s.split("@")[1].split(":")[1] for s in await drain(again)] == ["4"]
    assert [s.split("@")[1].split(":")[1] for s in await drain(fresh)] == ["1"]
    # the old stream goes once its last connection does; a participant that leaves, all
    bus.detach(again)
    assert bus.open("aaaaaaaa-1", f"{again.stream.name}:4")[1] is False
    assert bus.forget("aaaaaaaa-1", "left") == 2
    with pytest.raises(ValueError):
        bus.lose_next("aaaaaaaa-1")


async def test_a_replay_too_big_for_the_queue_resyncs_instead() -> None:
    bus = EventBus(queue_size=10, log_limit=100, replay_limit=50)
    channel, _ = bus.open("bbbbbbbb-1")
    bus.send("bbbbbbbb-1", "stage", 0)
    channel.close("drop")
    with pytest.raises(ChannelClosed):
        while True:
            await asyncio.wait_for(channel.get(0.01), 1)
    bus.detach(channel)
    for n in range(6):
        bus.send("bbbbbbbb-1", "stage", n)
    assert bus.open("bbbbbbbb-1", f"{channel.stream.name}:1")[1] is False
