"""Session lifetime details against the emulator: the task seam, idempotent close, injected
HTTP sessions, the refresh_token event."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from session_support import Recorder, emulator, url, wait_for

from pexbot import Session, SessionEndedEvent
from pexbot.errors import SessionEnded
from pexbot.events import RefreshTokenRequested


async def test_spawned_tasks_are_owned_by_the_session() -> None:
    async with emulator() as emu:
        cancelled = asyncio.Event()

        async def forever() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                cancelled.set()

        async def broken() -> None:
            raise ValueError("not critical")

        async with Session(url(emu), "open") as session:
            task = session.spawn(forever(), name="media-call")
            session.spawn(broken())
            await asyncio.sleep(0.1)
            assert not session.ended.is_set()  # a non-critical failure is only logged
        assert cancelled.is_set() and task.done()
        with pytest.raises(SessionEnded):
            session.spawn(forever())


async def test_critical_task_failure_ends_the_session() -> None:
    async with emulator() as emu, Session(url(emu), "open") as session:

        async def critical() -> None:
            raise RuntimeError("media pipeline broke")

        session.spawn(critical(), critical=True)
        await asyncio.wait_for(session.ended.wait(), 10)
        assert session.end_reason == "internal error: RuntimeError: media pipeline broke"
        assert emu.traffic.find("token.release")


async def test_close_is_idempotent_and_concurrent() -> None:
    async with emulator() as emu:
        session = Session(url(emu), "open")
        await session.open()
        seen = Recorder(session)
        await asyncio.gather(session.close("first"), session.close("second"), session.close())
        await session.close("again")
        assert session.end_reason == "first"
        assert [e.reason for e in seen.of(SessionEndedEvent)] == ["first"]
        assert len(emu.traffic.find("token.release")) == 1
        with pytest.raises(SessionEnded):
            await session.open()


async def test_injected_http_session_is_left_open() -> None:
    async with emulator() as emu, aiohttp.ClientSession() as http:
        async with (
            Session(url(emu), "open", http=http) as one,
            Session(url(emu), "open", http=http) as two,
        ):
            await wait_for(lambda: len(one.state.roster) == 2 and len(two.state.roster) == 2)
        assert not http.closed
        async with http.get(url(emu) + "/api/client/v2/status") as resp:
            assert resp.status == 200


async def test_refresh_token_event_triggers_one_refresh() -> None:
    async with emulator() as emu, Session(url(emu), "open") as session:
        seen = Recorder(session)
        keeper = session.token_keeper
        assert keeper.refreshes == 0  # 120 s token: nothing scheduled for 40 s
        emu.node.bus.send(session.participant_uuid or "", "refresh_token", None)
        await seen.wait(RefreshTokenRequested)
        await wait_for(lambda: keeper.refreshes == 1, what="the requested refresh")
        await asyncio.sleep(0.5)
        assert keeper.refreshes == 1
        assert len(emu.traffic.find("token.refresh")) == 1
