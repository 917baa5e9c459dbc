"""A FIFO between the event loop and a worker, bounded per kind, that never blocks the producer.

Sinks hand frames from the event loop to a thread (or a task) through this queue. ``put`` never
waits: when a kind is at its limit the item is refused and the caller counts the drop, so a
slow consumer costs frames, never event-loop time. One FIFO for all kinds keeps audio and video
in arrival order, which is what a muxer wants.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class FrameQueue(Generic[T]):
    """Thread-safe FIFO of ``(kind, item)`` with a limit per kind and a close marker."""

    def __init__(
        self,
        limits: Mapping[str, int],
        *,
        on_put: Callable[[], None] | None = None,
        wake: bool = True,
    ) -> None:
        """``wake=False``: ``put`` does not wake a waiting consumer, which then takes what
        came in batches at its own ``get`` timeout (one thread switch per batch, not per
        item: for a consumer whose work per item is tiny, the switch is most of its cost)."""
        for kind, limit in limits.items():
            if limit < 1:
                raise ValueError(f"queue limit for {kind!r} must be >= 1, got {limit}")
        self._limits = dict(limits)
        self._counts = dict.fromkeys(limits, 0)
        self._items: deque[tuple[str, T]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._on_put = on_put
        self._wake = wake

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def exhausted(self) -> bool:
        """Closed and drained: nothing more will ever come out."""
        with self._cond:
            return self._closed and not self._items

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, kind: str, item: T) -> bool:
        """Queue ``item``; False (item not queued) if ``kind`` is full or the queue is closed."""
        with self._cond:
            if self._closed or self._counts.get(kind, 0) >= self._limits.get(kind, 0):
                return False
            self._counts[kind] += 1
            self._items.append((kind, item))
            if self._wake:
                self._cond.notify()
        if self._on_put is not None:
            self._on_put()
        return True

    def get(self, timeout: float | None = None) -> tuple[str, T] | None:
        """Next item, waiting up to ``timeout``; None on timeout or when exhausted."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            return self._pop()

    def get_nowait(self) -> tuple[str, T] | None:
        with self._cond:
            return self._pop()

    def _pop(self) -> tuple[str, T] | None:
        if not self._items:
            return None
        kind, item = self._items.popleft()
        self._counts[kind] -= 1
        return kind, item

    def close(self) -> None:
        """Refuse further items; consumers drain what is queued, then see ``exhausted``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._on_put is not None:
            self._on_put()
