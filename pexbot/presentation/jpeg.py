"""Receiving a presentation without a slides m-line: the JPEG fallback.

A call without a presentation line (``media_type`` audio or video-only, ``present="main"``) or
no call at all still gets ``presentation_frame`` events while someone presents. Each names a
picture by its SSE ``id``; ``presentation.jpeg?id=...`` (or ``presentation_high.jpeg``) fetches
it. :class:`JpegPresentationReceiver` does that and hands the decoded pictures to a
:class:`JpegPresentationTrack`, a long-lived video track the application's sinks consume like
the presentation track of a call (role ``"presentation"``).

Pacing. Fetches are one at a time and at least ``min_interval`` apart; while one is in flight
newer ids replace the wanted one, so a slow node or link skips stale pictures rather than
queueing them. The track keeps the newest two pictures for a slow consumer. Decoding runs in a
thread. Fetch and decode failures are counted and logged, never raised: the next frame event
tries again.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import time
from collections.abc import Awaitable, Callable

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from pexbot.errors import PexbotError

log = logging.getLogger(__name__)

#: fetch(frame_id, high) -> JPEG bytes (``session.conference.presentation_frame``)
FetchJpeg = Callable[[str, bool], Awaitable[bytes]]
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


class JpegDecodeError(ValueError):
    """The node's picture is not a decodable JPEG (internal: counted, never raised to the app)."""


def decode_jpeg(data: bytes) -> VideoFrame:
    """A JPEG as a yuv420p frame (CPU: run it in a thread)."""
    import av

    try:
        codec = av.CodecContext.create("mjpeg", "r")
        frames = [*codec.decode(av.Packet(data)), *codec.decode(None)]
    except av.error.FFmpegError as exc:
        raise JpegDecodeError(f"{len(data)} bytes did not decode as JPEG: {exc}") from exc
    if not frames or not isinstance(frames[0], VideoFrame):
        raise JpegDecodeError(f"{len(data)} bytes of JPEG held no picture")
    # yuvj420p (full range) → yuv420p: what encoders and recorders expect
    return frames[0].reformat(format="yuv420p")


class JpegPresentationTrack(MediaStreamTrack):
    """A video track fed with pictures (newest kept), stamped on its own 90 kHz clock.

    It lives as long as its receiver: between presentations ``recv`` simply waits.
    """

    kind = "video"

    def __init__(self, *, depth: int = 2, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._frames: collections.deque[VideoFrame] = collections.deque(maxlen=depth)
        self._wake = asyncio.Event()
        self._clock = clock
        self._start: float | None = None
        self._last_pts = -1
        #: pictures pushed, and pushed pictures dropped unread (a slow consumer)
        self.pushed = 0
        self.dropped = 0

    def push(self, frame: VideoFrame) -> None:
        if self.readyState != "live":
            return
        now = self._clock()
        if self._start is None:
            self._start = now
        pts = max(int((now - self._start) * 90000), self._last_pts + 1)
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)
        self.pushed += 1
        self._wake.set()

    async def recv(self) -> VideoFrame:
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._wake.clear()
            await self._wake.wait()
        return self._frames.popleft()

    def stop(self) -> None:
        super().stop()
        self._wake.set()  # a waiting recv sees the end


class JpegPresentationReceiver:
    """Fetches the pictures ``presentation_frame`` events announce while :attr:`active`.

    :meth:`offer` every frame id (always: the newest is remembered, so a frame announced just
    before the receiver is activated is not lost); :meth:`run` is the fetching loop, owned by
    whoever awaits it (the presentation controller spawns it on the session).
    """

    def __init__(
        self,
        fetch: FetchJpeg,
        *,
        high: bool = False,
        min_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.high = high
        self.min_interval = min_interval
        self._clock = clock
        self.track = JpegPresentationTrack(clock=clock)
        self._wanted: str | None = None
        self._wake = asyncio.Event()
        self._active = False
        self._last_fetch = float("-inf")
        #: pictures delivered; fetches or decodes that failed; ids replaced before fetching
        self.frames = 0
        self.failures = 0
        self.skipped = 0
        self.last_frame_id: str | None = None

    @property
    def active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        """Start (someone presents) or stop (nobody does: the remembered id is forgotten)."""
        self._active = active
        if active:
            if self._wanted is not None:
                self._wake.set()
        else:
            self._wanted = None

    def offer(self, frame_id: str) -> None:
        """A ``presentation_frame`` event's id: the picture to fetch next."""
        if self._wanted is not None:
            self.skipped += 1
        self._wanted = frame_id
        if self._active:
            self._wake.set()

    async def run(self) -> None:
        """Fetch, decode and push until cancelled or the track is stopped."""
        while self.track.readyState == "live":
            await self._wake.wait()
            self._wake.clear()
            delay = self._last_fetch + self.min_interval - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)  # newer offers meanwhile replace the wanted id
            frame_id, self._wanted = self._wanted, None
            if frame_id is None or not self._active:
                continue
            self._last_fetch = self._clock()
            frame = await self._get(frame_id)
            if frame is not None and self._active:
                self.track.push(frame)
                self.frames += 1
                self.last_frame_id = frame_id

    async def _get(self, frame_id: str) -> VideoFrame | None:
        try:
            data = await self._fetch(frame_id, self.high)
            return await asyncio.to_thread(decode_jpeg, data)
        except (PexbotError, JpegDecodeError) as exc:
            self.failures += 1
            log.warning("presentation frame %s not delivered: %s", frame_id, exc)
            return None

    def close(self) -> None:
        """End the track (its consumers see the end). The :meth:`run` task is the owner's."""
        self._active = False
        self.track.stop()
        self._wake.set()
