"""The session's running part alone: jobs in one TaskGroup, spawned tasks, and the one reason
handed on when the group stops, whatever stopped it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pexbot.errors import SessionEnded
from pexbot.session.tasks import SessionTasks


class Kit:
    def __init__(self) -> None:
        self.reason: str | None = None
        self.stopped: list[str] = []
        self.tasks = SessionTasks(end_reason=lambda: self.reason, on_stopped=self.stopped.append)

    async def until_stopped(self) -> str:
        for _ in range(200):
            if self.stopped:
                return self.stopped[0]
            await asyncio.sleep(0.01)
        raise AssertionError("on_stopped was not called")


async def forever() -> None:
    await asyncio.Event().wait()


async def test_spawn_before_start_is_refused_and_the_coroutine_closed() -> None:
    kit = Kit()
    coro = forever()
    with pytest.raises(SessionEnded, match="not running"):
        kit.tasks.spawn(coro)
    assert coro.cr_frame is None  # closed, so it never warns "never awaited"


async def test_an_end_request_stops_every_job_with_the_end_reason() -> None:
    kit = Kit()
    cancelled: list[str] = []

    async def job(name: str) -> None:
        try:
            await forever()
        finally:
            cancelled.append(name)

    runner = kit.tasks.start("runner", {"a": lambda: job("a"), "b": lambda: job("b")})
    await asyncio.sleep(0.02)
    spawned = kit.tasks.spawn(job("spawned"))
    kit.reason = "Disconnected by the node"
    kit.tasks.request_end()
    assert await kit.until_stopped() == "Disconnected by the node"
    await runner
    assert sorted(cancelled) == ["a", "b", "spawned"] and spawned.cancelled()
    assert kit.stopped == ["Disconnected by the node"] and not kit.tasks.running


async def test_a_job_ending_the_session_names_its_reason() -> None:
    kit = Kit()

    async def token_lost() -> None:
        raise SessionEnded("token refused on refresh")

    kit.tasks.start("runner", {"keeper": token_lost, "stream": forever})
    assert await kit.until_stopped() == "token refused on refresh"


async def test_only_critical_spawned_failures_end_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kit = Kit()
    kit.tasks.start("runner", {"stream": forever})
    await asyncio.sleep(0.02)

    async def broken() -> None:
        raise RuntimeError("sink exploded")

    with caplog.at_level(logging.ERROR):
        kit.tasks.spawn(broken(), name="helper")
        await asyncio.sleep(0.05)
    assert not kit.stopped and kit.tasks.running  # logged, nothing else
    assert "a task spawned on the session failed" in caplog.text
    kit.tasks.spawn(broken(), critical=True)
    assert await kit.until_stopped() == "internal error: RuntimeError: sink exploded"


async def test_stop_cancels_and_waits_and_starting_again_is_refused() -> None:
    kit = Kit()
    done = asyncio.Event()

    async def job() -> None:
        try:
            await forever()
        finally:
            done.set()

    kit.tasks.start("runner", {"job": job})
    await asyncio.sleep(0.02)
    assert kit.tasks.running and kit.tasks.task_group is not None
    await kit.tasks.stop()
    assert done.is_set() and not kit.tasks.running
    await kit.tasks.stop()  # idempotent
    with pytest.raises(SessionEnded):
        kit.tasks.start("again", {"job": job})
