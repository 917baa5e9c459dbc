"""A sink that pulls frames and drops them: keeps a pipeline flowing and counts what came.

Useful where something must consume a track (an aiortc receiver's queue grows without bound
if nobody reads it) but nothing needs the media, and in tests and load runs that only ask
"did frames arrive, how many, with what timestamps".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from av import AudioFrame, VideoFrame

from media.sink import Kind, Sink


@dataclass
class TrackCount:
    frames: int = 0
    first_pts: float | None = None  # seconds, the frame's own pts
    last_pts: float | None = None
    width: int | None = None  # last video frame's size
    height: int | None = None


class DiscardSink(Sink):
    """Counts frames per (role, kind) and drops them."""

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[tuple[str, Kind], TrackCount] = {}
        self._changed = asyncio.Event()

    @property
    def counts(self) -> dict[tuple[str, Kind], TrackCount]:
        return dict(self._counts)

    def frames(self, role: str = "main", kind: Kind | None = None) -> int:
        """Frames seen for ``role`` (one kind, or both)."""
        return sum(
            c.frames for (r, k), c in self._counts.items() if r == role and kind in (None, k)
        )

    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> None:
        count = self._counts.get((role, kind))
        if count is None:
            count = self._counts[(role, kind)] = TrackCount()
        count.frames += 1
        if frame.pts is not None and frame.time_base is not None:
            pts = float(frame.pts * frame.time_base)
            if count.first_pts is None:
                count.first_pts = pts
            count.last_pts = pts
        if isinstance(frame, VideoFrame):
            count.width, count.height = frame.width, frame.height
        self._changed.set()

    async def wait_for(self, frames: int, *, role: str = "main", kind: Kind | None = None) -> int:
        """Wait until ``frames`` frames of ``role`` (and ``kind``) have come; returns the count.

        Bound the wait with ``asyncio.timeout``.
        """
        while self.frames(role, kind) < frames:
            self._changed.clear()
            await self._changed.wait()
        return self.frames(role, kind)
