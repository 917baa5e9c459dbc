"""The session's running part: one runner task owning a ``TaskGroup`` with the long-lived jobs
(token keeper, event stream), a watcher for "end now", and whatever was spawned on it.

Whatever stops the group (a job raising ``SessionEnded``, a critical spawned task failing, an
end request) is turned into one reason and handed to ``on_stopped`` exactly once; the session
closes on it. ``stop()`` is the other way out: the session cancelling its own tasks while it
closes. No task outlives the group, and nothing here is started at import or construction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from pexbot.errors import SessionEnded

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]


class SessionTasks:
    """Owns the session's runner task and its TaskGroup; see the module docstring."""

    def __init__(
        self, *, end_reason: Callable[[], str | None], on_stopped: Callable[[str], object]
    ) -> None:
        self._end_reason = end_reason
        self._on_stopped = on_stopped
        self._runner: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._end_requested = asyncio.Event()

    def start(self, name: str, jobs: Mapping[str, Job]) -> asyncio.Task[None]:
        """Start the runner with ``jobs`` (task name → coroutine function); once only."""
        if self._runner is not None:
            raise SessionEnded("the session's tasks were already started")
        self._runner = asyncio.get_running_loop().create_task(self._run(jobs), name=name)
        return self._runner

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done()

    @property
    def end_requested(self) -> bool:
        """Whether something asked the session to end (the node, a lost token...)."""
        return self._end_requested.is_set()

    def request_end(self) -> None:
        """Stop the group from a sync callback; ``on_stopped`` gets ``end_reason()``."""
        self._end_requested.set()

    async def stop(self) -> None:
        """Cancel the runner and wait until every task of the group is done."""
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.wait({runner})

    @property
    def task_group(self) -> asyncio.TaskGroup:
        """The running TaskGroup: a failing task in it ends the session."""
        if self._group is None:
            raise SessionEnded(self._end_reason() or "the session is not running")
        return self._group

    def spawn(
        self, coro: Coroutine[Any, Any, None], *, name: str | None = None, critical: bool = False
    ) -> asyncio.Task[None]:
        """Run ``coro`` in the group: cancelled and awaited when the session ends.

        An exception in a ``critical`` task ends the session; otherwise it is logged.
        """
        try:
            group = self.task_group
        except SessionEnded:
            coro.close()  # never started: no "coroutine was never awaited" warning
            raise
        return group.create_task(coro if critical else _logged(coro), name=name)

    async def _run(self, jobs: Mapping[str, Job]) -> None:
        reason: str | None = None
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                for name, job in jobs.items():
                    group.create_task(job(), name=name)
                group.create_task(self._watch_end(), name="pexbot-end-watcher")
        except* SessionEnded as ended:
            reason = str(getattr(ended.exceptions[0], "reason", ended.exceptions[0]))
        except* Exception as failed:
            error = failed.exceptions[0]
            log.error("a session task failed", exc_info=error)
            reason = f"internal error: {type(error).__name__}: {error}"
        finally:
            self._group = None
        self._on_stopped(reason or "session tasks stopped")

    async def _watch_end(self) -> None:
        await self._end_requested.wait()
        raise SessionEnded(self._end_reason() or "ended")


async def _logged(coro: Coroutine[Any, Any, None]) -> None:
    try:
        await coro
    except Exception:
        log.exception("a task spawned on the session failed")
