"""SerialWorker: in order, one at a time, bounded (drops and counts), failures logged and
skipped, watchers post on their event, close ends every task it spawned."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from pexbot.errors import CallError
from pexbot.presentation.serial_worker import SerialWorker


async def test_in_order_one_at_a_time_bounded_and_failures_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spawned: list[asyncio.Task[None]] = []

    def spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        spawned.append(asyncio.get_running_loop().create_task(coro))
        return spawned[-1]

    done: list[int] = []
    running = 0

    async def apply(n: int) -> None:
        nonlocal running
        running += 1
        assert running == 1  # never two at once
        await asyncio.sleep(0.01)
        running -= 1
        if n == 2:
            raise CallError("two is refused")
        if n == 3:
            raise RuntimeError("three is a bug")
        done.append(n)

    worker: SerialWorker[int] = SerialWorker(
        "test", apply, spawn=spawn, lock=asyncio.Lock(), size=4
    )
    for n in range(6):  # 0 is taken at once by the worker; 1-4 fill the inbox; 5 is dropped
        worker.post(n)
        if n == 0:
            await asyncio.sleep(0)  # the worker starts and takes 0 out of the inbox
    assert worker.dropped == 1
    ready = asyncio.Event()
    worker.post_when(ready, 10)
    await asyncio.sleep(0.2)
    assert done == [0, 1, 4]  # 2 and 3 failed, the ones after still ran
    ready.set()
    await asyncio.sleep(0.1)
    assert done == [0, 1, 4, 10]
    assert "two is refused" in caplog.text and "three is a bug" in caplog.text
    assert len(spawned) == 2  # one worker, one watcher: nothing else

    worker.post_when(asyncio.Event(), 11)  # a watcher that would wait forever
    await worker.close()
    assert all(t.done() for t in spawned)
    worker.post(12)  # after close: ignored
    await asyncio.sleep(0.05)
    assert done == [0, 1, 4, 10]
