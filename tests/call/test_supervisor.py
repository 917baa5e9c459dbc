"""The supervisor on its own, over a fake call (what :class:`SupervisedCall` asks for) with a
real recovery policy: restarts and giving up, repairing the slides line, statistics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from callkit import wait_until

from pexbot import wire
from pexbot.call import supervisor
from pexbot.call.options import CallOptions
from pexbot.call.supervisor import CallSupervisor
from pexbot.errors import CallError, TransportError
from pexbot.rtc.peer import STREAM_OF
from pexbot.rtc.raw_stats import RawStream
from pexbot.rtc.restart import RecoveryOptions, RecoveryPolicy
from pexbot.rtc.sdp import MediaRole

TICK = 0.02


@dataclass
class FakePeer:
    ice_state: str = "connected"
    closed: bool = False

    async def tx_stats(self, role: MediaRole) -> RawStream:
        return RawStream(tx_generation=1, tx_packets=5, tx_bytes=500, tx_codec="opus")


@dataclass
class FakeMedia:
    packets: int = 0

    def packets_in(self) -> int:
        return self.packets

    def stream_of(self, role: MediaRole) -> Any:
        return STREAM_OF[role]

    def raw(self, role: MediaRole, tx: RawStream) -> RawStream:
        return RawStream(
            rx_packets=self.packets,
            tx_generation=tx.tx_generation,
            tx_packets=tx.tx_packets,
            tx_codec=tx.tx_codec,
        )


@dataclass
class FakeCall:
    """A :class:`~pexbot.call.supervisor.SupervisedCall`."""

    policy: RecoveryPolicy = field(default_factory=RecoveryPolicy)
    media: FakeMedia = field(default_factory=FakeMedia)
    current_peer: FakePeer | None = field(default_factory=FakePeer)
    roles: list[MediaRole] = field(default_factory=lambda: ["audio"])
    options: CallOptions = field(default_factory=lambda: CallOptions(direct_media=True))
    call_uuid: str | None = "call-1"
    state: str = "connected"
    waiting_for_peer: bool = False
    media_rejected: bool = False
    restarts: int = 0
    unsettled: bool = False
    #: what each restart does: True/False returned, an exception raised
    outcomes: list[bool | Exception] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    settles: int = 0

    async def restart(self, reason: str = "requested") -> bool:
        self.restarted.append(reason)
        outcome = self.outcomes.pop(0) if self.outcomes else False
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def give_up(self, reason: str) -> None:
        self.given_up.append(reason)

    def slides_unsettled(self) -> bool:
        return self.unsettled

    async def settle_slides(self) -> None:
        self.settles += 1
        self.unsettled = False


def failing_ice(**options: Any) -> FakeCall:
    policy = RecoveryPolicy(RecoveryOptions(**options))
    policy.new_connection(time.monotonic(), ours=True)
    return FakeCall(policy=policy, current_peer=FakePeer(ice_state="failed"))


@asynccontextmanager
async def running(watcher: CallSupervisor) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(watcher.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.wait({task})


async def test_failed_ice_restarts_and_failed_attempts_do_not_stop_the_watch() -> None:
    call = failing_ice(retry_initial=0.05, retry_max=0.05, give_up_after=None)
    call.outcomes = [False, TransportError("node gone"), False]
    watcher = CallSupervisor(call, tick=TICK)  # type: ignore[arg-type]
    async with running(watcher) as task:
        await wait_until(lambda: len(call.restarted) >= 4, within=3, what="four attempts")
        assert not task.done()
    assert set(call.restarted) == {"ICE failed"} and call.given_up == []


async def test_media_that_cannot_be_recovered_ends_the_watch() -> None:
    call = failing_ice(give_up_after=0.0)
    watcher = CallSupervisor(call, tick=TICK)  # type: ignore[arg-type]
    async with running(watcher) as task, asyncio.timeout(2):
        await task
    assert call.given_up == ["media connection failed (ICE failed)"]
    assert call.restarted == []


@pytest.mark.parametrize("idle", ["waiting_for_peer", "media_rejected"])
async def test_a_call_with_nothing_to_watch_is_not_restarted(idle: str) -> None:
    call = failing_ice(give_up_after=0.0)
    setattr(call, idle, True)
    watcher = CallSupervisor(call, tick=TICK)  # type: ignore[arg-type]
    async with running(watcher) as task:
        await asyncio.sleep(10 * TICK)
        assert not task.done()
    assert call.restarted == [] and call.given_up == []


async def test_a_contradicting_slides_line_is_repaired_once_it_lasts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor, "SETTLE_AFTER", 0.2)
    call = FakeCall(unsettled=True)
    watcher = CallSupervisor(call, tick=TICK)  # type: ignore[arg-type]
    began = time.monotonic()
    async with running(watcher):
        await wait_until(lambda: call.settles == 1, within=2, what="the repair")
        assert time.monotonic() - began >= 0.2  # the far end's own offer gets its chance
        await asyncio.sleep(10 * TICK)
    assert call.settles == 1 and watcher.settled == 1


async def test_a_contradiction_that_settles_by_itself_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor, "SETTLE_AFTER", 0.3)
    call = FakeCall(unsettled=True)
    watcher = CallSupervisor(call, tick=TICK)  # type: ignore[arg-type]
    async with running(watcher):
        await asyncio.sleep(0.1)
        call.unsettled = False  # the far end's offer repaired it
        await asyncio.sleep(0.5)
        call.unsettled = True  # a new contradiction: its own delay again
        await asyncio.sleep(0.1)
    assert call.settles == 0


async def test_a_sample_reports_the_call_and_becomes_the_latest() -> None:
    call = FakeCall(restarts=2, state="reconnecting")
    call.media.packets = 7
    watcher = CallSupervisor(call)  # type: ignore[arg-type]
    stats = await watcher.sample(time.monotonic())
    assert watcher.tracker.latest is stats
    assert stats.call_uuid == "call-1" and stats.direct_media
    assert stats.connection_state == "reconnecting" and stats.restarts == 2
    assert stats.audio.rx_packets == 7 and stats.audio.tx_packets == 5
    assert stats.audio.tx_codec == "opus"


async def test_statistics_are_posted_every_interval_and_failures_counted() -> None:
    call = FakeCall(current_peer=None)
    call.media.packets = 3
    posts: list[tuple[str, wire.StatisticsBody]] = []
    failing = [True]

    async def post(call_uuid: str, body: wire.StatisticsBody) -> None:
        if failing and failing.pop():
            raise CallError("statistics refused")
        posts.append((call_uuid, body))

    watcher = CallSupervisor(call, post=post, stats_interval=0.1, tick=TICK)  # type: ignore[arg-type]
    async with running(watcher):
        await wait_until(lambda: len(posts) >= 2, within=3, what="two posts")
    assert watcher.post_failures == 1 and watcher.posted == len(posts)
    assert posts[0][0] == "call-1" and posts[0][1].audio is not None


async def test_nothing_flowed_nothing_is_posted() -> None:
    call = FakeCall(current_peer=None)
    posted: list[wire.StatisticsBody] = []

    async def post(call_uuid: str, body: wire.StatisticsBody) -> None:
        posted.append(body)

    watcher = CallSupervisor(call, post=post, stats_interval=0.05, tick=TICK)  # type: ignore[arg-type]
    async with running(watcher):
        await asyncio.sleep(0.4)
    assert posted == [] and watcher.posted == 0
