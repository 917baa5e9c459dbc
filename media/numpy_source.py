"""Tracks whose content comes from a user callback returning numpy arrays.

``callback(frame_index, pts_seconds)`` may be a plain function or a coroutine function. A plain
one runs on the event loop while it is quick; once a call takes longer than ``slow_call``
seconds the rest run in a worker thread (``threaded=True`` / ``False`` forces either way).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from av import AudioFrame, VideoFrame

from .clock import MediaClock, PacedAudioTrack, PacedVideoTrack
from .errors import SourceError

ArrayCallback = Callable[[int, float], "npt.NDArray[Any] | Awaitable[npt.NDArray[Any]]"]


class _Caller:
    """Runs a callback inline, awaited, or in a thread, as it turns out to need."""

    def __init__(self, callback: ArrayCallback, threaded: bool | None, slow_call: float) -> None:
        self.callback = callback
        self.is_async = inspect.iscoroutinefunction(callback)
        self.threaded = threaded
        self.slow_call = slow_call

    async def __call__(self, index: int, t: float) -> npt.NDArray[Any]:
        if self.is_async:
            result = self.callback(index, t)
            assert inspect.isawaitable(result)
            return await result
        if self.threaded:
            result = await asyncio.to_thread(self.callback, index, t)
        else:
            started = time.perf_counter()
            result = self.callback(index, t)
            if self.threaded is None and time.perf_counter() - started > self.slow_call:
                self.threaded = True
        if inspect.isawaitable(result):
            return await result
        return result


class NumpyVideoSource(PacedVideoTrack):
    """Frames from ``callback``: H x W x 3 uint8 (rgb24) or (H * 3 / 2) x W uint8 (yuv420p).

    ``format`` picks the layout; "auto" tells them apart by the number of dimensions.
    """

    def __init__(
        self,
        callback: ArrayCallback,
        *,
        fps: float = 30.0,
        format: str = "auto",
        threaded: bool | None = None,
        slow_call: float = 0.005,
        clock: MediaClock | None = None,
    ) -> None:
        super().__init__(fps=fps, clock=clock)
        if format not in ("auto", "rgb24", "yuv420p"):
            raise ValueError(f"format must be auto, rgb24 or yuv420p, got {format!r}")
        self.format = format
        self._call = _Caller(callback, threaded, slow_call)

    async def render(self, index: int, t: float) -> VideoFrame:
        array = np.asarray(await self._call(index, t))
        fmt = self.format
        if fmt == "auto":
            fmt = "rgb24" if array.ndim == 3 else "yuv420p"
        if array.dtype != np.uint8:
            raise SourceError(
                f"video callback returned {array.dtype} for frame {index}; need uint8"
            )
        if fmt == "rgb24" and (array.ndim != 3 or array.shape[2] != 3):
            raise SourceError(f"video callback returned shape {array.shape}; rgb24 needs H x W x 3")
        if fmt == "yuv420p" and (array.ndim != 2 or array.shape[0] % 3 or array.shape[1] % 2):
            raise SourceError(
                f"video callback returned shape {array.shape}; yuv420p needs (H * 3 / 2) x W"
            )
        return VideoFrame.from_ndarray(np.ascontiguousarray(array), format=fmt)


class NumpyAudioSource(PacedAudioTrack):
    """Audio from ``callback``: int16 samples, shape (n,) mono or (n, channels), n fixed.

    ``n`` is ``samples_per_frame`` (960 for the default 20 ms at 48 kHz).
    """

    def __init__(
        self,
        callback: ArrayCallback,
        *,
        sample_rate: int = 48000,
        channels: int = 1,
        frame_seconds: float = 0.02,
        threaded: bool | None = None,
        slow_call: float = 0.005,
        clock: MediaClock | None = None,
    ) -> None:
        super().__init__(sample_rate=sample_rate, frame_seconds=frame_seconds, clock=clock)
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self.channels = channels
        self._call = _Caller(callback, threaded, slow_call)

    async def render(self, index: int, first_sample: int, t: float) -> AudioFrame:
        array = np.asarray(await self._call(index, t))
        if array.dtype != np.int16:
            raise SourceError(
                f"audio callback returned {array.dtype} for frame {index}; need int16"
            )
        if array.ndim == 1:
            array = array[:, None]
        if array.shape != (self.samples_per_frame, self.channels):
            raise SourceError(
                f"audio callback returned shape {array.shape} for frame {index}; need "
                f"{self.samples_per_frame} samples x {self.channels} channel(s)"
            )
        layout = "stereo" if self.channels == 2 else "mono"
        frame = AudioFrame.from_ndarray(
            np.ascontiguousarray(array).reshape(1, -1), format="s16", layout=layout
        )
        frame.sample_rate = self.sample_rate
        return frame
