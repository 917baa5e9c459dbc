"""Joining again after the node was lost (fault class 3): what counts as lost, and a node
stopped and started again on the same port under a live session."""

from __future__ import annotations

import asyncio
import time

import pytest

from pexbot import Session
from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig
from pexbot.errors import InvalidPin
from pexbot.session.rejoin import Rejoiner, RejoinPolicy, describe, node_lost


def test_node_lost_is_how_the_session_words_a_lost_node() -> None:
    # The words pexbot.events.stream and pexbot.signalling.token end a session with.
    for reason in (
        "event stream refused: HTTP 403 on 2 consecutive attempts (token no longer accepted)",
        "event stream lost: 8 reconnect attempts failed (last: ClientConnectorError)",
        "event stream could not be opened: 8 attempts failed (last: timed out)",
        "token refused on refresh (403: Invalid token)",
        "token expired: 9 refresh attempts failed, last: HTTP 503",
    ):
        assert node_lost(reason), reason
    # The node's (or the application's) decisions are not undone.
    for reason in (None, "Conference ended", "Disconnected by host", "User initiated disconnect"):
        assert not node_lost(reason), reason


def test_policy_bounds() -> None:
    with pytest.raises(ValueError):
        RejoinPolicy(attempts=0)
    with pytest.raises(ValueError):
        RejoinPolicy(initial=5, maximum=1)
    delays = [RejoinPolicy(initial=1, maximum=4, jitter=0).backoff().next_delay() for _ in "ab"]
    assert delays == [1.0, 1.0]


def _config() -> EmulatorConfig:
    return EmulatorConfig(
        conferences=[
            ConferenceConfig(aliases=["meet"]),
            ConferenceConfig(aliases=["pinned"], host_pin="1234"),
        ]
    )


async def _until_ended(session: Session, within: float) -> str:
    try:
        await asyncio.wait_for(session.ended.wait(), within)
    except TimeoutError:
        return "duration"
    return "ended"


async def test_a_restarted_node_is_noticed_and_joined_again() -> None:
    emu = await Emulator(_config(), port=0).start()
    port = emu.port
    url = emu.base_url
    policy = RejoinPolicy(attempts=5, initial=0.3, maximum=2.0)
    sessions: list[Session] = []
    joined = asyncio.Event()

    async def work(session: Session) -> str:
        sessions.append(session)
        joined.set()
        return await _until_ended(session, 60.0 if len(sessions) == 1 else 1.0)

    rejoiner: Rejoiner[str] = Rejoiner(lambda: Session(url, "meet", rejoin=policy))
    runner = asyncio.ensure_future(rejoiner.run(work))
    new: Emulator | None = None
    try:
        await asyncio.wait_for(joined.wait(), 30)
        await asyncio.sleep(0.5)
        stopped_at = time.monotonic()
        await emu.aclose()
        await asyncio.sleep(1.0)  # down for a second, then back on the same port
        new = await Emulator(_config(), port=port).start()
        result = await asyncio.wait_for(runner, 60)
    finally:
        runner.cancel()
        if new is not None:
            await new.aclose()
        await emu.aclose()
    assert result == "duration" and len(sessions) == 2
    first, second = sessions
    assert node_lost(first.end_reason), first.end_reason
    assert first.participant_uuid != second.participant_uuid
    [gap] = rejoiner.gaps
    assert gap.left_at - stopped_at < 1.0  # the stream dropped as the node went
    # Noticed within the event stream's schedule after the node was back (it was down 1 s).
    assert gap.noticed_at - stopped_at < 16.0, gap
    assert gap.back_at > gap.noticed_at and gap.attempts >= 1
    record = describe(gap, stopped_at)
    assert record["event"] == "rejoined" and record["reason"] == gap.reason
    print(
        f"\nnoticed {gap.noticed_at - stopped_at:.2f} s after the stop, joined again "
        f"{gap.back_at - gap.noticed_at:.2f} s later ({gap.attempts} tries): {gap.reason}"
    )


async def test_no_policy_no_rejoin_and_a_first_join_failure_propagates() -> None:
    async with Emulator(_config(), port=0) as emu:
        policy = RejoinPolicy()
        rejoiner: Rejoiner[str] = Rejoiner(
            lambda: Session(emu.base_url, "pinned", pin="0000", rejoin=policy)
        )
        with pytest.raises(InvalidPin):
            await rejoiner.run(lambda s: _until_ended(s, 0.1))

        async def leave(session: Session) -> str:
            emu.faults.expire_tokens(session.participant_uuid)
            session.token_keeper.request_refresh()
            return await _until_ended(session, 20)

        plain: Rejoiner[str] = Rejoiner(lambda: Session(emu.base_url, "meet"))
        assert await plain.run(leave) == "ended" and plain.gaps == []


async def test_a_node_that_stays_away_is_given_up_on() -> None:
    emu = await Emulator(_config(), port=0).start()
    url = emu.base_url
    policy = RejoinPolicy(attempts=2, initial=0.1, maximum=0.2)

    async def work(session: Session) -> str:
        return await _until_ended(session, 60)

    rejoiner: Rejoiner[str] = Rejoiner(
        lambda: Session(url, "meet", rejoin=policy, max_stream_attempts=3, timeout=2.0)
    )
    runner = asyncio.ensure_future(rejoiner.run(work))
    try:
        await asyncio.sleep(1.0)
        await emu.aclose()
        assert await asyncio.wait_for(runner, 60) == "ended"
    finally:
        runner.cancel()
        await emu.aclose()
    assert rejoiner.gaps == [] and rejoiner.gave_up is not None
    assert "2 re-joins failed" in rejoiner.gave_up, rejoiner.gave_up
