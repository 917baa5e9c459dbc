"""Hand every frame to user code as a numpy array: ``callback(role, kind, array, pts_seconds)``.

* video: ``video_format`` (default ``rgb24``: ``H x W x 3`` uint8; any PyAV ``to_ndarray`` format);
* audio: int16, shape ``(samples, channels)``, at the track's own rate and layout;
* ``pts_seconds``: the frame's own pts in seconds (track time, not a recording clock), or None.

A plain function runs on a worker thread fed through a queue bounded per kind; an ``async def``
runs in a task the sink owns. Either way the event loop never waits for the callback: when it
falls behind, video frames are dropped and counted; audio has a deeper queue and is dropped
only past it, counted and logged. An exception in the callback is counted and logged once per
burst (the first traceback, then one line when the callback works again); it never stops the
sink.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.frame_queue import FrameQueue
from media.sink import Kind, Sink

log = logging.getLogger(__name__)

FrameArray = npt.NDArray[Any]
FrameCallback = Callable[[str, Kind, FrameArray, float | None], "Awaitable[object] | object"]
Item = tuple[str, AudioFrame | VideoFrame, float | None]


@dataclass
class CallbackStats:
    delivered: int = 0  # callback returned normally
    dropped: int = 0  # never handed to the callback (queue full)
    errors: int = 0  # callback raised


def audio_array(frame: AudioFrame) -> npt.NDArray[np.int16]:
    """Samples of ``frame`` as int16, shape ``(samples, channels)``."""
    channels = len(frame.layout.channels)
    data = frame.to_ndarray()
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    if data.dtype == np.int16:
        return np.ascontiguousarray(data)
    if data.dtype == np.int32:
        return np.right_shift(data.astype(np.int32), 16).astype(np.int16)
    if data.dtype == np.uint8:
        return ((data.astype(np.int16) - 128) << 8).astype(np.int16)
    scaled = np.clip(np.rint(data.astype(np.float64) * 32768.0), -32768, 32767)
    return scaled.astype(np.int16)


class _ErrorBurst:
    """Logs the first failure of a run of failures, and one line when the run ends."""

    def __init__(self) -> None:
        self._run = 0

    def failed(self, role: str, kind: str, exc: BaseException) -> None:
        self._run += 1
        if self._run == 1:
            log.error("frame callback failed on %s/%s", role, kind, exc_info=exc)

    def succeeded(self) -> None:
        if self._run > 1:
            log.warning("frame callback works again after %d failures in a row", self._run)
        self._run = 0


class CallbackSink(Sink):
    """Calls ``callback`` for each frame of every track, off the event loop's critical path.

    ``mode``: "auto" (``async def`` -> "async", else "thread"), "thread" or "async".
    ``close()`` delivers what is queued, waiting at most ``close_timeout`` seconds for it.
    """

    def __init__(
        self,
        callback: FrameCallback,
        *,
        video_format: str = "rgb24",
        mode: Literal["auto", "thread", "async"] = "auto",
        video_queue: int = 4,
        audio_queue: int = 250,
        close_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self._callback = callback
        self._video_format = video_format
        self._async = mode == "async" or (mode == "auto" and inspect.iscoroutinefunction(callback))
        self._wake = asyncio.Event()
        self._queue: FrameQueue[Item] = FrameQueue(
            {"video": video_queue, "audio": audio_queue}, on_put=self._wake.set
        )
        self._close_timeout = close_timeout
        self._stats: dict[tuple[str, Kind], CallbackStats] = {}
        self._errors = _ErrorBurst()
        self._abandon = False  # close timed out: drop what is still queued
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    def stats(self) -> dict[tuple[str, Kind], CallbackStats]:
        """Per (role, kind): frames delivered, dropped, and callback errors."""
        return dict(self._stats)

    def on_track_added(self, role: str, kind: Kind, track: MediaStreamTrack) -> None:
        self._stats.setdefault((role, kind), CallbackStats())
        if self._async and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._consume_async(), name="CallbackSink:consumer"
            )
        elif not self._async and self._thread is None:
            self._thread = threading.Thread(
                target=self._consume_thread, name="CallbackSink", daemon=True
            )
            self._thread.start()

    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> None:
        pts = None
        if frame.pts is not None and frame.time_base is not None:
            pts = float(frame.pts * frame.time_base)
        if self._queue.put(kind, (role, frame, pts)):
            return
        stats = self._stats.setdefault((role, kind), CallbackStats())
        stats.dropped += 1
        if kind == "audio" and stats.dropped in (1, 10, 100, 1000):
            log.warning("frame callback too slow: %d %s audio frames dropped", stats.dropped, role)

    def _array(self, kind: Kind, frame: AudioFrame | VideoFrame) -> FrameArray:
        if isinstance(frame, VideoFrame):
            return frame.to_ndarray(format=self._video_format)
        return audio_array(frame)

    def _record(self, role: str, kind: Kind, exc: BaseException | None) -> None:
        stats = self._stats.setdefault((role, kind), CallbackStats())
        if exc is None:
            stats.delivered += 1
            self._errors.succeeded()
        else:
            stats.errors += 1
            self._errors.failed(role, kind, exc)

    def _consume_thread(self) -> None:
        while True:
            got = self._queue.get(timeout=0.25)
            if got is None:
                if self._queue.exhausted:
                    return
                continue
            kind: Kind = "audio" if got[0] == "audio" else "video"
            role, frame, pts = got[1]
            if self._abandon:
                self._stats.setdefault((role, kind), CallbackStats()).dropped += 1
                continue
            try:
                result = self._callback(role, kind, self._array(kind, frame), pts)
                if inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()
                    raise TypeError(
                        "callback returned an awaitable in thread mode; use mode='async'"
                    )
            except Exception as exc:
                self._record(role, kind, exc)
            else:
                self._record(role, kind, None)

    async def _consume_async(self) -> None:
        while True:
            got = self._queue.get_nowait()
            if got is None:
                if self._queue.exhausted:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            kind: Kind = "audio" if got[0] == "audio" else "video"
            role, frame, pts = got[1]
            try:
                if kind == "video":
                    array = await asyncio.to_thread(self._array, kind, frame)
                else:
                    array = self._array(kind, frame)
                result = self._callback(role, kind, array, pts)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self._record(role, kind, exc)
            else:
                self._record(role, kind, None)

    async def finalise(self) -> None:
        self._queue.close()
        try:
            async with asyncio.timeout(self._close_timeout):
                if self._task is not None:
                    await asyncio.shield(self._task)
                if self._thread is not None:
                    await asyncio.to_thread(self._thread.join)
        except TimeoutError:
            self._abandon = True
            log.warning(
                "frame callback still busy %.1f s after close; dropping the rest",
                self._close_timeout,
            )
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])
