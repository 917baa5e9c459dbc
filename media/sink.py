"""The sink contract: something that consumes aiortc tracks.

A sink is handed tracks with ``add_track`` and pulls from each one's ``recv()`` in a task it
owns. ``close()`` stops pulling, waits for the tasks, finalises whatever the sink writes, and is
idempotent. Every track gets a *role* ("main", "presentation", ...) so a sink can keep streams
apart (a recorder writes the presentation beside the main recording).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Literal

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from .errors import MediaError

log = logging.getLogger(__name__)

Kind = Literal["audio", "video"]


class Sink(ABC):
    """Base class: one pulling task per track, owned by the sink.

    Subclasses implement :meth:`on_frame` (called on the event loop, must not block: hand heavy
    work to a thread through a bounded queue) and optionally :meth:`on_track_ended` and
    :meth:`finalise`.
    """

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, Kind], asyncio.Task[None]] = {}
        self._closed = False
        self._close_lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def add_track(self, track: MediaStreamTrack, *, role: str = "main") -> None:
        """Start consuming ``track``; a second track for one (role, kind) replaces the first."""
        if self._closed:
            raise MediaError(f"{type(self).__name__} is closed; cannot add a {track.kind} track")
        kind: Kind = "audio" if track.kind == "audio" else "video"
        key = (role, kind)
        old = self._tasks.pop(key, None)
        if old is not None:
            old.cancel()
        self.on_track_added(role, kind, track)
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._pull(role, kind, track), name=f"{type(self).__name__}:{role}:{kind}"
        )

    async def _pull(self, role: str, kind: Kind, track: MediaStreamTrack) -> None:
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    break
                result = self.on_frame(role, kind, frame)  # type: ignore[arg-type]
                if asyncio.iscoroutine(result):
                    await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: consuming %s/%s failed", type(self).__name__, role, kind)
        finally:
            self.on_track_ended(role, kind)

    def on_track_added(self, role: str, kind: Kind, track: MediaStreamTrack) -> None:  # noqa: B027
        """Hook: a track for (role, kind) is about to be consumed."""

    @abstractmethod
    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> object:
        """Handle one decoded frame. May return an awaitable."""

    def on_track_ended(self, role: str, kind: Kind) -> None:  # noqa: B027
        """Hook: the track for (role, kind) ended or was replaced."""

    async def finalise(self) -> None:  # noqa: B027
        """Hook: flush and close outputs. Runs once, after every pulling task has stopped."""

    async def close(self) -> None:
        """Stop consuming, then finalise. Safe to call more than once."""
        async with self._close_lock:
            if self._closed:
                return
            self._closed = True
            tasks = list(self._tasks.values())
            self._tasks.clear()
            for task in tasks:
                task.cancel()
            if tasks:
                # wait() rather than awaiting each task: a cancellation of close() itself must
                # propagate, not be swallowed with the pullers' CancelledError.
                await asyncio.wait(tasks)
            await self.finalise()

    async def __aenter__(self) -> Sink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
