"""Presentation content in motion: the limits it is held to and the feeds that play it.

Limits (:class:`ContentCaps`): pictures are scaled down to fit (never up), keeping their aspect,
and made even-sized (stills and application frames are padded by repeating the edge; file video
is scaled to the nearest even size below); frame rates are clamped to ``[min_fps, max_fps]``.

A feed (:class:`ItemFeed`) is one play of one presentation item: a video track that delivers the
item's pictures in real time and then, instead of ending, sets ``done`` and waits. A switchable
track reading it keeps repeating the last picture until it is given the next feed, so nothing
flashes black between slides.
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from .clock import VIDEO_CLOCK_RATE, MediaClock
from .errors import SourceError
from .file_source import FileSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContentCaps:
    """Size and frame-rate limits for presentation content."""

    max_width: int = 1920
    max_height: int = 1080
    min_fps: float = 5.0
    max_fps: float = 30.0
    video_fps: float = 15.0  # files play at most this fast unless an item asks otherwise
    still_fps: float = 5.0  # how often a still picture is sent again

    def __post_init__(self) -> None:
        if self.max_width < 2 or self.max_height < 2 or self.max_width % 2 or self.max_height % 2:
            raise ValueError(f"max size must be even, got {self.max_width}x{self.max_height}")
        if not 0 < self.min_fps <= self.max_fps:
            raise ValueError(f"need 0 < min_fps <= max_fps, got {self.min_fps}, {self.max_fps}")
        for name, fps in (("video_fps", self.video_fps), ("still_fps", self.still_fps)):
            if not self.min_fps <= fps <= self.max_fps:
                raise ValueError(f"{name} {fps} is outside [{self.min_fps}, {self.max_fps}]")

    def fps(self, wanted: float | None, default: float) -> float:
        """``wanted`` (or ``default``) clamped to ``[min_fps, max_fps]``."""
        if wanted is not None and wanted <= 0:
            raise ValueError(f"fps must be positive, got {wanted}")
        return min(self.max_fps, max(self.min_fps, default if wanted is None else wanted))


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down to fit the box, never up, aspect kept (may be odd)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"picture size must be positive, got {width}x{height}")
    scale = min(1.0, max_width / width, max_height / height)
    return (
        max(1, min(max_width, round(width * scale))),
        max(1, min(max_height, round(height * scale))),
    )


def video_size(width: int, height: int, caps: ContentCaps) -> tuple[int, int]:
    """The even size file video is scaled to (the encoder needs even sizes)."""
    w, h = fit_size(width, height, caps.max_width, caps.max_height)
    return max(2, w - w % 2), max(2, h - h % 2)


def conform_frame(frame: VideoFrame, caps: ContentCaps) -> VideoFrame:
    """``frame`` as yuv420p within the caps, padded to even size; CPU-heavy for big pictures."""
    w, h = fit_size(frame.width, frame.height, caps.max_width, caps.max_height)
    if w % 2 == 0 and h % 2 == 0:
        if (w, h) == (frame.width, frame.height) and frame.format.name == "yuv420p":
            return frame
        return frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
    rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    padded = np.asarray(np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge"), np.uint8)
    return VideoFrame.from_ndarray(padded, format="rgb24").reformat(format="yuv420p")


def needs_conform(frame: VideoFrame, caps: ContentCaps) -> bool:
    w, h = frame.width, frame.height
    return (
        frame.format.name != "yuv420p"
        or w % 2 == 1
        or h % 2 == 1
        or w > caps.max_width
        or h > caps.max_height
    )


class FrameRateCap:
    """Admits frames at most ``fps`` a second on average, by their times (pure).

    A frame may come a quarter period early, so a 25 fps input capped at 15 comes out at 15,
    not at 12.5.
    """

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    def admit(self, t: float) -> bool:
        if self._next is not None and t < self._next - self.period / 4:
            return False
        if self._next is None or t >= self._next + self.period:
            self._next = t + self.period  # after a gap, start afresh rather than burst
        else:
            self._next += self.period
        return True


# --- feeds --------------------------------------------------------------------------------------


class ItemFeed(MediaStreamTrack):
    """One play of an item. After the last picture's time is up it sets ``done`` and waits."""

    kind = "video"

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label
        self.clock = MediaClock()
        self.started = asyncio.Event()  # the first picture is out (or there is none)
        self.done = asyncio.Event()
        self.frames_out = 0
        self.error: Exception | None = None
        self._stopped = asyncio.Event()

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if not self.done.is_set():
            try:
                frame = await self._next()
            except Exception as exc:
                log.warning("presentation item %s failed: %s", self.label, exc)
                self.error = exc
                frame = None
            if frame is not None:
                self.frames_out += 1
                self.started.set()
                return frame
            self.started.set()
            self.done.set()
        # over: a switchable reading this holds the last picture until it is given another feed
        await self._stopped.wait()
        raise MediaStreamError

    @abstractmethod
    async def _next(self) -> VideoFrame | None:
        """The next picture, due now; None once the content's time is over."""

    def stop(self) -> None:
        super().stop()
        self._stopped.set()

    async def close(self) -> None:
        """Stop and release what the feed holds. Safe to call more than once."""
        self.stop()


class StillFeed(ItemFeed):
    def __init__(self, label: str, picture: VideoFrame, seconds: float, fps: float) -> None:
        super().__init__(label)
        self._picture = picture.to_ndarray()
        self._seconds = seconds
        self._fps = fps
        self._count = max(1, math.ceil(seconds * fps - 1e-9))
        self._index = 0

    async def _next(self) -> VideoFrame | None:
        # a late reader skips repeats instead of bursting them
        self._index = max(self._index, min(self._count, int(self.clock.now() * self._fps)))
        if self._index >= self._count:
            await self.clock.sleep_until(self._seconds)
            return None
        await self.clock.sleep_until(self._index / self._fps)
        self._index += 1
        # a new frame each time: the pictures sent are restamped and drawn on downstream
        return VideoFrame.from_ndarray(self._picture, format="yuv420p")


class VideoFeed(ItemFeed):
    def __init__(self, label: str, source: FileSource, fps: float, frame_seconds: float) -> None:
        super().__init__(label)
        self._source = source
        self._cap = FrameRateCap(fps)
        self._frame_seconds = frame_seconds
        self._last_t: float | None = None

    async def _next(self) -> VideoFrame | None:
        track = self._source.video
        assert track is not None
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                if self._source.error is not None:
                    failure = one_line(self._source.error)
                    raise SourceError(f"playing {self.label} failed: {failure}") from None
                if self._last_t is not None:  # the last picture stays up for its own duration
                    await self._source.clock.sleep_until(self._last_t + self._frame_seconds)
                return None
            assert isinstance(frame, VideoFrame)
            t = (frame.pts or 0) / VIDEO_CLOCK_RATE
            self._last_t = t
            if self._cap.admit(t):
                return frame

    async def close(self) -> None:
        self.stop()
        await self._source.close()


class TrackFeed(ItemFeed):
    def __init__(
        self,
        label: str,
        track: MediaStreamTrack,
        *,
        seconds: float | None,
        fps: float,
        caps: ContentCaps,
        owned: bool,
    ) -> None:
        super().__init__(label)
        self._track = track
        self._seconds = seconds
        self._cap = FrameRateCap(fps)
        self._caps = caps
        self._owned = owned

    async def _next(self) -> VideoFrame | None:
        while True:
            remaining = None if self._seconds is None else self._seconds - self.clock.now()
            if remaining is not None and remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    frame = await self._track.recv()
            except (TimeoutError, MediaStreamError):
                return None
            if not isinstance(frame, VideoFrame):
                raise SourceError(f"{self.label} produced {type(frame).__name__}, not video")
            if not self._cap.admit(self.clock.now()):
                continue
            if needs_conform(frame, self._caps):
                frame = await asyncio.to_thread(conform_frame, frame, self._caps)
            return frame

    async def close(self) -> None:
        self.stop()
        if self._owned:
            self._track.stop()


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
