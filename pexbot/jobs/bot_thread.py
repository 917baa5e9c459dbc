"""Bots on an asyncio loop in a thread of its own, driven from code that is not asyncio (Locust's
gevent greenlets), and what such a driver reports about each bot while its call runs.

::

    loop = BotLoop().start()
    handle = loop.start_bot(MediaBot, target, options)   # returns at once
    ...                                   # poll handle.record, handle.done()
    handle.leave()                        # the bot leaves (token released)
    loop.close()                          # every bot still there is cancelled and awaited

The loop runs in a real thread (:mod:`threading` must not be gevent's: Locust workers run with
``LOCUST_SKIP_MONKEY_PATCH=1``); each bot runs as a task on it, submitted with
:func:`asyncio.run_coroutine_threadsafe`. The caller never touches a bot's objects: it asks
the loop (``leave``, ``cancel``) and reads the bot's :class:`~.load.BotRecord`, whose fields
are plain numbers written by the loop's thread.

:class:`BotReport` turns what a record shows into *reports* as they happen: ``join`` (its
time), ``first_frame`` (from the bot's start), ``media_stall`` (no frame for ``stall_after``
seconds, once per stall) and, for a bot that failed, the step it failed at.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from pexbot.errors import PexbotError

from .load import Bot, BotFactory, BotRecord, LoadOptions
from .target import JoinTarget

log = logging.getLogger(__name__)


class BotFailed(PexbotError):
    """What a failed step of a bot is reported with (its error type and message)."""


class BotLoop:
    """One asyncio loop in one thread, owning every bot started on it (see module doc)."""

    def __init__(self, *, name: str = "pexbot-bots") -> None:
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._ready = threading.Event()
        self._count = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> BotLoop:
        if self._thread is not None:
            raise RuntimeError("the bot loop was started already")
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the bot loop's thread did not start in {timeout:.0f} s")
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # the thread has no caller to raise to
            log.error("the bot loop failed", exc_info=exc)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        self._ready.set()
        await self._closing.wait()
        # Bots still running are cancelled: each leaves as a cancelled session does (its token
        # released, bounded in time), and is awaited before the loop ends.
        me = asyncio.current_task()
        others = [task for task in asyncio.all_tasks() if task is not me]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run ``coro`` on the loop; the future cancels its task when cancelled."""
        if self._loop is None or not self.running:
            coro.close()
            raise RuntimeError("the bot loop is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def start_bot(self, factory: BotFactory, target: JoinTarget, options: LoadOptions) -> BotHandle:
        """A new bot (numbered from 1 on this loop), running as soon as the loop takes it."""
        self._count += 1
        handle = BotHandle(self, self._count)
        handle.future = self.submit(handle._run(factory, target, options))
        return handle

    @property
    def bots_started(self) -> int:
        return self._count

    def call_soon(self, callback: Any, *args: Any) -> None:
        if self._loop is not None and self.running:
            self._loop.call_soon_threadsafe(callback, *args)

    def close(self, timeout: float = 20.0) -> None:
        """Cancel what still runs, await it, end the thread (waits up to ``timeout``)."""
        if self._thread is None:
            return
        if self._closing is not None:
            self.call_soon(self._closing.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the bot loop did not end within %.0f s", timeout)


class BotHandle:
    """One bot on a :class:`BotLoop`, seen from the thread that started it."""

    future: concurrent.futures.Future[None]

    def __init__(self, loop: BotLoop, index: int) -> None:
        self._owner = loop
        self._bot: Bot | None = None
        self._pending = BotRecord(index)
        self._stop: asyncio.Event | None = None
        self._leave_asked = False
        self.started = time.monotonic()

    @property
    def record(self) -> BotRecord:
        return self._bot.record if self._bot is not None else self._pending

    async def _run(self, factory: BotFactory, target: JoinTarget, options: LoadOptions) -> None:
        # The bot and its event are made on the loop's thread: they are the loop's objects.
        self._stop = asyncio.Event()
        if self._leave_asked:
            return
        self._bot = factory(self._pending.index, target, options)
        try:
            await self._bot.run(self._stop)
        except Exception as exc:  # a factory's bot that raises still ends as a failed bot
            record = self._bot.record
            record.state, record.failure, record.failure_message = (
                "failed",
                type(exc).__name__,
                str(exc),
            )

    def leave(self) -> None:
        """Ask the bot to leave (it hangs up, releases its token); returns at once."""
        self._leave_asked = True
        self._owner.call_soon(self._set_stop)

    def _set_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def cancel(self) -> None:
        """Cancel the bot's task (after ``leave`` did not end it in time)."""
        self.future.cancel()

    def done(self) -> bool:
        return self.future.done()


@dataclass(frozen=True)
class Report:
    """One thing to report about a bot: Locust fires each as a request event."""

    name: str  # join, first_frame, media_stall, call
    ms: float
    length: int = 0  # frames received so far
    error: BotFailed | None = None


class BotReport:
    """What a bot's record showed since the last look, as :class:`Report` s (pure: fed the
    record and the time). ``expects_media`` is False for signalling-only bots."""

    def __init__(self, *, expects_media: bool = True, stall_after: float = 5.0) -> None:
        self._expects_media = expects_media
        self._stall_after = stall_after
        self._joined = False
        self._first = False
        self._frames = 0
        self._rise_at = 0.0
        self._stalled = False

    @property
    def stalled(self) -> bool:
        return self._stalled

    def update(self, record: BotRecord, now: float) -> list[Report]:
        """Reports for what happened during the call (call it every fraction of a second)."""
        out: list[Report] = []
        if record.join_s is not None and not self._joined:
            self._joined = True
            out.append(Report("join", record.join_s * 1000.0))
        if record.media_s is not None and not self._first:
            self._first = True
            self._frames, self._rise_at = record.frames, now
            out.append(Report("first_frame", record.media_s * 1000.0, record.frames))
        if self._first and record.failure is None:
            if record.frames > self._frames:
                self._frames, self._rise_at, self._stalled = record.frames, now, False
            elif not self._stalled and now - self._rise_at >= self._stall_after:
                self._stalled = True
                quiet = now - self._rise_at
                error = BotFailed(
                    f"bot {record.index}: no frame for {quiet:.1f} s after {record.frames} received"
                )
                out.append(Report("media_stall", quiet * 1000.0, record.frames, error))
        return out

    def finish(self, record: BotRecord, now: float, started: float, *, asked: bool) -> list[Report]:
        """Reports once the bot ended; ``asked``: it was told to leave (a stop, not a failure)."""
        out = self.update(record, now)
        elapsed = (now - started) * 1000.0
        if record.failure is not None:
            error = BotFailed(f"{record.failure}: {record.failure_message or 'no message'}")
            if not self._joined:
                out.append(Report("join", elapsed, error=error))
            elif self._expects_media and not self._first:
                out.append(Report("first_frame", elapsed, record.frames, error))
            else:
                out.append(Report("call", elapsed, record.frames, error))
        elif not asked:
            error = BotFailed(f"bot {record.index} left the call by itself")
            out.append(Report("call", elapsed, record.frames, error))
        return out
