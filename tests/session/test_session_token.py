"""Token lifecycle of a Session against the emulator: refresh over many lifetimes, release on
cancellation, and clean endings when the token is lost."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time

import pytest
from session_support import Recorder, emulator, url, wait_for

from pexbot import Session, SessionEnded, SessionEndedEvent
from pexbot.errors import SessionEnded as SessionEndedError
from pexbot.events import ParticipantDeleted


async def test_refresh_across_five_lifetimes_of_a_3s_token() -> None:
    async with emulator() as emu, Session(url(emu), "short", display_name="Keeper") as session:
        assert session.info.expires_seconds == 3
        keeper = session.token_keeper
        started = time.monotonic()
        times: list[float] = []
        # About 16 s; longer only if a loaded machine delays the 15th refresh.
        while time.monotonic() - started < 16 or keeper.refreshes < 15:
            assert time.monotonic() - started < 40, keeper.refreshes
            count = keeper.refreshes
            await asyncio.sleep(0.02)
            if keeper.refreshes != count:
                times.append(time.monotonic())
        assert not session.ended.is_set(), session.end_reason
        # Still joined and still allowed to act, with a token five generations on.
        roster = await session.conference.participants()
        assert session.participant_uuid in {p.uuid for p in roster}
        refreshes = emu.traffic.find("token.refresh")
    assert len(refreshes) >= 15, len(refreshes)
    assert all(x.status == 200 for x in refreshes)
    refused = [x for x in emu.traffic if x.status >= 400]
    assert refused == [], [(x.method, x.path, x.status) for x in refused]
    assert keeper.refreshes == len(refreshes)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # expires/3 = 1 s; the median is robust to a stall on a loaded machine.
    assert 0.8 <= statistics.median(gaps) <= 1.5, gaps


async def test_release_when_the_task_is_cancelled() -> None:
    async with emulator() as emu, Session(url(emu), "open", display_name="Observer") as observer:
        seen = Recorder(observer)
        joined = asyncio.Event()
        uuids: list[str] = []

        async def bot() -> None:
            async with Session(url(emu), "open", display_name="Doomed") as session:
                uuids.append(session.participant_uuid or "")
                joined.set()
                await asyncio.sleep(3600)

        task = asyncio.create_task(bot())
        await asyncio.wait_for(joined.wait(), 15)
        await wait_for(lambda: uuids[0] in observer.state.roster, what="the bot in the roster")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        releases = emu.traffic.find("token.release")
        assert [x.status for x in releases] == [200]
        assert releases[0].request_json == {"reason": "User initiated disconnect"}
        deleted = await seen.wait(ParticipantDeleted)
        assert [e.uuid for e in deleted] == [uuids[0]]
        assert uuids[0] not in observer.state.roster


async def test_403_on_refresh_ends_the_session_without_a_tight_loop() -> None:
    async with emulator() as emu:
        async with Session(url(emu), "short", display_name="Refused") as session:
            ended = Recorder(session)
            emu.faults.fail_next(
                5, status=403, path_contains="refresh_token", result="Invalid token"
            )
            await asyncio.wait_for(session.ended.wait(), 10)
            assert session.end_reason is not None
            assert "refused on refresh" in session.end_reason
            assert ended.of(SessionEndedEvent)[-1].reason == session.end_reason
            with pytest.raises(SessionEndedError):
                await session.conference.status()
        refreshes = [x for x in emu.traffic if x.path.endswith("/refresh_token")]
        assert [x.status for x in refreshes][-1] == 403
        assert sum(1 for x in refreshes if x.status == 403) == 1
        assert emu.traffic.find("token.release")


async def test_expired_token_ends_the_session_with_the_reason() -> None:
    async with emulator() as emu:
        async with Session(url(emu), "open", display_name="Expiring") as session:
            emu.faults.expire_tokens(session.participant_uuid)
            await asyncio.wait_for(session.ended.wait(), 15)
            assert session.end_reason
        assert isinstance(session.end_reason, str)
        with pytest.raises(SessionEnded):
            _ = session.token
