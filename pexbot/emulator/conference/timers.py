"""Background work owned by one emulator: timers (dial answer, captions, breakout end) and
short async jobs (media teardown). ``aclose`` cancels and awaits all of it."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Timers:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._by_key: dict[str, set[asyncio.Task[None]]] = {}
        self._closed = False

    def call_later(
        self, delay: float, callback: Callable[[], object], *, key: str | None = None
    ) -> None:
        """Run ``callback`` after ``delay`` seconds unless cancelled (by key or on close)."""

        async def later() -> None:
            await asyncio.sleep(delay)
            callback()

        self._start(later(), key)

    def spawn(self, coro: Coroutine[Any, Any, None], *, key: str | None = None) -> None:
        self._start(coro, key)

    def cancel_key(self, key: str) -> None:
        for task in self._by_key.pop(key, set()):
            task.cancel()

    def _start(self, coro: Coroutine[Any, Any, None], key: str | None) -> None:
        if self._closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        if key is not None:
            self._by_key.setdefault(key, set()).add(task)

        def done(t: asyncio.Task[None]) -> None:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()  # cancelled before it ran: no "never awaited" warning
            self._tasks.discard(t)
            if key is not None:
                keyed = self._by_key.get(key)
                if keyed is not None:
                    keyed.discard(t)
                    if not keyed:
                        del self._by_key[key]

        task.add_done_callback(done)

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("emulator background job failed")

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._by_key.clear()
