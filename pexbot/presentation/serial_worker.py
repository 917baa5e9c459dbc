"""One task that applies posted actions in order, spawned on demand on its owner's task group.

The presentation controller is fed from several places (session events, a call ending, a
playlist running out) and must apply them one at a time, in arrival order, without blocking
whoever posted. A :class:`SerialWorker` is that: a bounded inbox (full: the action is dropped
and counted, never the poster blocked), one worker task started by the first post (through the
owner's ``spawn``, so the session's task group owns it), and *watchers*: tasks that post an
action when an ``asyncio.Event`` is set. :meth:`SerialWorker.close` cancels and awaits them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from pexbot.errors import PexbotError, SessionEnded

log = logging.getLogger(__name__)

A = TypeVar("A")
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


class SerialWorker(Generic[A]):
    """Applies each posted action with ``apply`` (under ``lock``), one at a time, in order.

    An action that fails is logged (PexbotError as a warning, anything else with its traceback)
    and the next one still runs.
    """

    def __init__(
        self,
        name: str,
        apply: Callable[[A], Awaitable[None]],
        *,
        spawn: Spawn,
        lock: asyncio.Lock,
        size: int = 64,
    ) -> None:
        self._name = name
        self._apply = apply
        self._spawn = spawn
        self._lock = lock
        self._inbox: asyncio.Queue[A] = asyncio.Queue(size)
        self._worker: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._closed = False
        #: actions that did not fit the inbox
        self.dropped = 0

    def post(self, action: A) -> None:
        """Queue ``action`` (on the event loop; never blocks). Nothing after :meth:`close`."""
        if self._closed:
            return
        try:
            self._inbox.put_nowait(action)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("%s worker behind: %s dropped", self._name, type(action).__name__)
            return
        if self._worker is None or self._worker.done():
            with contextlib.suppress(SessionEnded):
                self._worker = self._spawn(self._run())

    def post_when(self, event: asyncio.Event, action: A) -> None:
        """Post ``action`` once ``event`` is set (a watcher task, ended by :meth:`close`)."""

        async def watch() -> None:
            await event.wait()
            self.post(action)

        with contextlib.suppress(SessionEnded):
            task = self._spawn(watch())
            self._watchers.add(task)
            task.add_done_callback(self._watchers.discard)

    async def close(self) -> None:
        """Cancel the worker and the watchers and wait for them. Idempotent."""
        self._closed = True
        tasks = [t for t in (self._worker, *self._watchers) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._watchers.clear()

    async def _run(self) -> None:
        while True:
            action = await self._inbox.get()
            what = type(action).__name__
            async with self._lock:
                try:
                    await self._apply(action)
                except PexbotError as exc:
                    log.warning("%s: %s not followed: %s", self._name, what, exc)
                except Exception:
                    # a bug or a call torn down mid-renegotiation: the next action still counts
                    log.exception("%s: %s failed", self._name, what)
