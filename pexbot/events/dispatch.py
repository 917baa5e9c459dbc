"""Fan events out to callbacks and async iterators, with bounded queues.

Delivery rules:

- Sync callbacks run inline in :meth:`EventDispatcher.publish`, in event order: keep them quick.
- Async callbacks (``async def``, or a sync callable that returns an awaitable) run in a worker
  task per subscription owned by the dispatcher, one event at a time and in order, so a slow
  callback delays only itself.
- A callback that raises is logged and keeps its subscription: one bad consumer never takes the
  session down.
- Overflow policy, for async callbacks and iterators alike: **drop the oldest** queued event,
  count it (``dropped``) and log a warning at the 1st, 10th, 100th ... drop. A consumer that
  falls behind then sees the freshest events (stage, layout), and ``publish`` never blocks the
  event stream. Consumers that need every roster change read :class:`pexbot.events.state.RosterDiff`
  / ``session.state``, which are applied before publishing and never dropped.
- :meth:`EventDispatcher.aclose` ends every iterator after what it has queued, gives async
  callbacks ``drain_timeout`` seconds to work through their queues, then cancels and awaits.

Every dispatcher is self-contained (no module-level state), so many can share a process.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType

from . import Event, EventName, name_of

__all__ = ["Callback", "EventDispatcher", "EventIterator", "Subscription"]

log = logging.getLogger(__name__)

Callback = Callable[[Event], Awaitable[None] | None]
Names = Iterable[EventName | str] | None


def _name_set(names: Names) -> frozenset[str] | None:
    return None if names is None else frozenset(str(n) for n in names)


def _wanted(names: frozenset[str] | None, event: Event) -> bool:
    return names is None or name_of(event) in names or str(event.name) in names


def _note_drop(what: str, dropped: int) -> None:
    # Powers of ten: a stuck consumer is noticed without flooding the log.
    if dropped in (1, 10, 100, 1000) or dropped % 10000 == 0:
        log.warning("%s is not keeping up: %d events dropped (oldest first)", what, dropped)


class Subscription:
    """Handle of one subscription. ``unsubscribe()`` is idempotent; also a context manager."""

    def __init__(self, on_unsubscribe: Callable[[], None]) -> None:
        self._on_unsubscribe: Callable[[], None] | None = on_unsubscribe

    @property
    def active(self) -> bool:
        return self._on_unsubscribe is not None

    def unsubscribe(self) -> None:
        callback, self._on_unsubscribe = self._on_unsubscribe, None
        if callback is not None:
            callback()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()


class EventIterator(AsyncIterator[Event]):
    """Async iterator over published events, with a bounded drop-oldest queue.

    Ends (``StopAsyncIteration``) once the dispatcher closes and the queue is empty, or at once
    after :meth:`aclose`. ``dropped`` counts events lost to overflow.
    """

    def __init__(
        self, names: frozenset[str] | None, maxsize: int, detach: Callable[[EventIterator], None]
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1 (got {maxsize})")
        self._names = names
        self._queue: deque[Event] = deque(maxlen=maxsize)
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._detach = detach
        self.dropped = 0

    def _push(self, event: Event) -> None:
        if self._ended or not _wanted(self._names, event):
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
            _note_drop("an event iterator", self.dropped)
        self._queue.append(event)
        self._wake()

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> EventIterator:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    async def aclose(self) -> None:
        """Stop receiving; events still queued are discarded."""
        self._queue.clear()
        self._end()
        self._detach(self)

    async def __aenter__(self) -> EventIterator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _AsyncSubscriber:
    """Queue + worker task for one async callback."""

    def __init__(self, callback: Callback, names: frozenset[str] | None, maxsize: int) -> None:
        self.callback = callback
        self.names = names
        self.queue: deque[Event] = deque(maxlen=maxsize)
        self.wakeup = asyncio.Event()
        self.closing = False
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0

    def push(self, event: Event) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
            _note_drop(f"async callback {self.callback!r}", self.dropped)
        self.queue.append(event)
        self.wakeup.set()
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name=f"pexbot-event-callback-{self.callback!r}"
            )

    async def _run(self) -> None:
        while True:
            while self.queue:
                event = self.queue.popleft()
                try:
                    result = self.callback(event)
                    if result is not None:
                        await result
                except Exception:
                    log.exception("event callback %r failed on %s", self.callback, name_of(event))
            if self.closing:
                return
            self.wakeup.clear()
            await self.wakeup.wait()


class EventDispatcher:
    """Publishes events to subscribers; see the module docstring for the delivery rules."""

    def __init__(self, *, callback_queue_size: int = 1000) -> None:
        self._callback_queue_size = callback_queue_size
        self._sync: list[tuple[Callback, frozenset[str] | None]] = []
        self._async: list[_AsyncSubscriber] = []
        self._iterators: list[EventIterator] = []
        self._stray: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def dropped(self) -> int:
        """Events dropped so far by every async callback and iterator still subscribed."""
        return sum(s.dropped for s in self._async) + sum(i.dropped for i in self._iterators)

    def subscribe(self, callback: Callback, *, names: Names = None) -> Subscription:
        """Call ``callback`` for each event (whose name is in ``names``, if given)."""
        wanted = _name_set(names)
        if self._closed:
            return Subscription(lambda: None)
        if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
            getattr(callback, "__call__", None)  # noqa: B004 - async callable objects
        ):
            sub = _AsyncSubscriber(callback, wanted, self._callback_queue_size)
            self._async.append(sub)
            return Subscription(lambda: self._drop_async(sub))
        entry = (callback, wanted)
        self._sync.append(entry)
        return Subscription(lambda: self._sync.remove(entry) if entry in self._sync else None)

    def stream(self, *, names: Names = None, maxsize: int = 1000) -> EventIterator:
        """An async iterator over events from now on (bounded, drop-oldest)."""
        iterator = EventIterator(_name_set(names), maxsize, self._detach)
        if self._closed:
            iterator._end()
        else:
            self._iterators.append(iterator)
        return iterator

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber; never blocks, never raises for a subscriber."""
        if self._closed:
            log.debug("publish after close ignored: %s", name_of(event))
            return
        for callback, wanted in list(self._sync):
            if not _wanted(wanted, event):
                continue
            try:
                result = callback(event)
            except Exception:
                log.exception("event callback %r failed on %s", callback, name_of(event))
                continue
            if inspect.isawaitable(result):
                self._adopt(result)
        for sub in list(self._async):
            if _wanted(sub.names, event):
                sub.push(event)
        for iterator in list(self._iterators):
            iterator._push(event)

    async def aclose(self, *, drain_timeout: float = 5.0) -> None:
        """End iterators, let async callbacks drain for up to ``drain_timeout`` s, then cancel.

        Idempotent."""
        if self._closed and not self._async and not self._stray:
            return
        self._closed = True
        self._sync.clear()
        for iterator in self._iterators:
            iterator._end()
        self._iterators.clear()
        subs, self._async = self._async, []
        tasks: set[asyncio.Task[None]] = set(self._stray)
        for sub in subs:
            sub.closing = True
            sub.wakeup.set()
            if sub.task is not None:
                tasks.add(sub.task)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=drain_timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "%d event callbacks did not finish in %.1f s: cancelled",
                len(pending),
                drain_timeout,
            )
            await asyncio.gather(*pending, return_exceptions=True)
        self._stray.clear()

    # -- internals -----------------------------------------------------------------------------

    def _adopt(self, awaitable: Awaitable[None]) -> None:
        """Own the awaitable a "sync" callback returned, so it is awaited and can be cancelled."""

        async def await_it() -> None:
            try:
                await awaitable
            except Exception:
                log.exception("event callback awaitable failed")

        task = asyncio.get_running_loop().create_task(await_it())
        self._stray.add(task)
        task.add_done_callback(self._stray.discard)

    def _drop_async(self, sub: _AsyncSubscriber) -> None:
        if sub in self._async:
            self._async.remove(sub)
        if sub.task is not None:
            # Unsubscribed mid-callback: stop now, the callback is unwanted.
            sub.task.cancel()
            self._stray_add(sub.task)

    def _stray_add(self, task: asyncio.Task[None]) -> None:
        if not task.done():
            self._stray.add(task)
            task.add_done_callback(self._stray.discard)

    def _detach(self, iterator: EventIterator) -> None:
        if iterator in self._iterators:
            self._iterators.remove(iterator)
