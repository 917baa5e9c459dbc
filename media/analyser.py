"""A sink that measures what arrives: rate, resolution, freezes, pattern numbers, tone, latency.

Per frame, on the event loop, only cheap work happens: counting, a subsampled luma signature
for freeze detection, and the tone detector (a few dot products per 20 ms of audio). Reading
the pattern code (a few milliseconds per picture) runs in one worker thread owned by the
analyser. Frames go to it through a bound on work in flight (``max_pending``): when the
worker is behind, the frame is not analysed and is counted (``frames_not_analysed``) rather
than delaying the event loop or the pulling of later frames. ``decode_every`` reads only
every n-th frame, for many roles on a small machine.

``report()`` returns an :class:`~media.analysis.AnalyserReport` snapshot at any time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from .analysis import AnalyserReport, RoleStats
from .pattern import Code, find_codes
from .sink import Kind, Sink
from .tone import ToneSpec, to_mono_float

__all__ = ["Analyser", "luma_plane", "pcm_of"]

log = logging.getLogger(__name__)


def luma_plane(frame: VideoFrame) -> npt.NDArray[np.uint8]:
    """A copy of the picture's luma (H x W)."""
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "gray"):
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
        return np.array(rows[:, : frame.width])
    gray = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
    return gray


def pcm_of(frame: AudioFrame) -> npt.NDArray[np.generic]:
    """Samples as (samples, channels), whatever the frame's packing."""
    data: npt.NDArray[np.generic] = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        return data.T
    return data.reshape(-1, channels)


class Analyser(Sink):
    def __init__(
        self,
        *,
        tone: ToneSpec | None = None,
        freeze_ms: float = 300.0,
        max_pending: int = 3,
        decode_every: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        if max_pending < 1 or decode_every < 1:
            raise ValueError("max_pending and decode_every must be at least 1")
        self.tone = tone or ToneSpec()
        self.freeze_ms = freeze_ms
        self.max_pending = max_pending
        self.decode_every = decode_every
        self._monotonic = monotonic
        self._wall = wall
        self._start = monotonic()
        self._roles: dict[str, RoleStats] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[asyncio.Future[list[Code]]] = set()

    def role(self, role: str) -> RoleStats:
        stats = self._roles.get(role)
        if stats is None:
            stats = self._roles[role] = RoleStats(tone=self.tone, freeze_ms=self.freeze_ms)
        return stats

    def on_track_added(self, role: str, kind: Kind, track: MediaStreamTrack) -> None:
        self.role(role)

    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> None:
        now = self._monotonic() - self._start
        wall_ms = self._wall() * 1000.0
        stats = self.role(role)
        if isinstance(frame, VideoFrame):
            luma = luma_plane(frame)
            signature = luma[::8, ::8].astype(np.int16)
            stats.video.on_frame(now, frame.width, frame.height, signature)
            if (stats.video.frames - 1) % self.decode_every == 0:
                self._submit(stats, luma, now, wall_ms)
        else:
            mono = to_mono_float(pcm_of(frame))
            stats.audio.on_frame(now, wall_ms, mono)

    def _submit(
        self, stats: RoleStats, luma: npt.NDArray[np.uint8], now: float, wall_ms: float
    ) -> None:
        if len(self._pending) >= self.max_pending:
            stats.video.not_analysed += 1
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="analyser")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, find_codes, luma)
        self._pending.add(future)
        future.add_done_callback(partial(self._decoded, stats, now, wall_ms))

    def _decoded(
        self, stats: RoleStats, now: float, wall_ms: float, future: asyncio.Future[list[Code]]
    ) -> None:
        self._pending.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            log.error("analyser: reading the pattern failed: %r", error)
            stats.video.not_analysed += 1
            return
        stats.video.on_codes(now, wall_ms, future.result())

    async def finalise(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def report(self) -> AnalyserReport:
        now = self._monotonic() - self._start
        roles = {name: stats.report(now) for name, stats in self._roles.items()}
        return AnalyserReport(elapsed_s=round(now, 3), roles=roles)
