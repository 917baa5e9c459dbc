"""Long-lived outgoing tracks for a call: switchable source, mute, filler, monotonic time.

An aiortc sender dies for good once its track ends, and it stops the track it was given when
the call closes. So a call never hands an application's track to aiortc directly: it sends one
of these, which pulls from a *source* that can be swapped, muted or removed at any time. Frames
are restamped on the track's own clock, so switching sources never makes time jump back; with
no source (or a stalled one) a filler is sent instead (black / silence by default, a "waiting"
card in the emulator). An optional *gate* holds every frame back until it is set (the emulator
sends nothing before the ``ack``).
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, VideoFrame

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
VideoFiller = Callable[[int, int], VideoFrame]


def black_frame(width: int, height: int) -> VideoFrame:
    """A black yuv420p frame (limited range: Y=16, U=V=128)."""
    frame = VideoFrame(width, height, "yuv420p")
    for plane, value in zip(frame.planes, (16, 128, 128), strict=True):
        plane.update(np.full(plane.buffer_size, value, dtype=np.uint8).tobytes())
    return frame


def silence(samples: int, sample_rate: int, layout: str = "mono") -> AudioFrame:
    frame = AudioFrame(format="s16", layout=layout, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = sample_rate
    return frame


class _Outgoing(MediaStreamTrack):
    """Shared plumbing: source, mute flag, gate, stall detection."""

    def __init__(
        self,
        source: MediaStreamTrack | None,
        *,
        gate: asyncio.Event | None,
        stall_timeout: float,
    ) -> None:
        super().__init__()
        self._source = source
        self._gate = gate
        self._stall_timeout = stall_timeout
        self.muted = False
        self._pending: asyncio.Future[Any] | None = None
        self._pending_source: MediaStreamTrack | None = None
        #: frames taken from sources / made up by the filler (for tests and stats)
        self.source_frames = 0
        self.filler_frames = 0

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    @property
    def frames(self) -> int:
        """Frames handed to the sender so far (source and filler)."""
        return self.source_frames + self.filler_frames

    def set_source(self, source: MediaStreamTrack | None) -> None:
        """Send ``source`` from the next frame on (None: the filler)."""
        self._source = source

    def stop(self) -> None:
        self._drop_pending()
        super().stop()

    async def _pull(self) -> AudioFrame | VideoFrame | None:
        """The next source frame, or None when there is no source or it stalled or ended.

        A stalled source's ``recv()`` is not cancelled (not every track survives that): it
        stays pending and the next call waits on it again.
        """
        if self.readyState != "live":
            raise MediaStreamError
        if self._gate is not None and not self._gate.is_set():
            await self._gate.wait()
        source = self._source
        if source is None:
            self._drop_pending()
            return None
        if self._pending is None or self._pending_source is not source:
            self._drop_pending()
            self._pending = asyncio.ensure_future(source.recv())
            self._pending.add_done_callback(_retrieve)
            self._pending_source = source
        done, _ = await asyncio.wait({self._pending}, timeout=self._stall_timeout)
        if not done or self._pending is None:
            return None
        task, self._pending = self._pending, None
        if self.readyState != "live":
            raise MediaStreamError
        if task.cancelled() or task.exception() is not None:
            # The source ended (MediaStreamError) or broke: fall back to the filler.
            if self._source is source:
                self._source = None
            return None
        frame = task.result()
        if not isinstance(frame, AudioFrame | VideoFrame):
            return None  # encoded packets cannot be restamped or muted here
        return frame

    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
            self._pending_source = None


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark a failed recv as seen: an abandoned one must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()


class OutgoingVideoTrack(_Outgoing):
    kind = "video"

    def __init__(
        self,
        source: MediaStreamTrack | None = None,
        *,
        filler: VideoFiller = black_frame,
        size: tuple[int, int] = (640, 360),
        fps: float = 15.0,
        gate: asyncio.Event | None = None,
        stall_timeout: float = 1.0,
    ) -> None:
        super().__init__(source, gate=gate, stall_timeout=stall_timeout)
        self._filler = filler
        self._size = size
        self._interval = 1.0 / fps
        self._start: float | None = None
        self._last_pts = -1
        self._next_filler_at = 0.0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames sent lately."""
        return self._size

    async def recv(self) -> VideoFrame:
        frame = await self._pull()
        now = time.monotonic()
        if frame is None:
            if self._source is None:
                # Pace the filler ourselves; a stalled source has already made us wait.
                delay = self._next_filler_at - now
                if delay > 0:
                    await asyncio.sleep(delay)
                    now = time.monotonic()
            self._next_filler_at = now + self._interval
            out = self._filler(*self._size)
            self.filler_frames += 1
        else:
            assert isinstance(frame, VideoFrame)
            self._size = (frame.width, frame.height)
            out = black_frame(*self._size) if self.muted else frame
            self.source_frames += 1
        if self._start is None:
            self._start = now
        pts = max(int((now - self._start) * 90000), self._last_pts + 1)
        self._last_pts = pts
        out.pts = pts
        out.time_base = VIDEO_TIME_BASE
        return out


class OutgoingAudioTrack(_Outgoing):
    """Audio in one fixed format (s16 stereo 48 kHz): aiortc's Opus encoder sets its resampler
    up from the first frame and fails on any frame of another format, so frames from every
    source, silence included, are converted to this one."""

    kind = "audio"
    RATE = 48000
    LAYOUT = "stereo"

    def __init__(
        self,
        source: MediaStreamTrack | None = None,
        *,
        ptime: float = 0.02,
        gate: asyncio.Event | None = None,
        stall_timeout: float = 0.25,
    ) -> None:
        super().__init__(source, gate=gate, stall_timeout=stall_timeout)
        self._ptime = ptime
        self._seconds = 0.0  # media time sent so far
        self._start: float | None = None
        self._resamplers: dict[tuple[str, str, int], AudioResampler] = {}
        self._ready: collections.deque[AudioFrame] = collections.deque(maxlen=50)

    async def recv(self) -> AudioFrame:
        while not self._ready:
            await self._fill()
        out = self._ready.popleft()
        now = time.monotonic()
        if self._start is None or now - (self._start + self._seconds) > 0.5:
            # First frame, or far behind real time (a stalled source): re-anchor so the
            # filler does not burst to catch up.
            self._start = now - self._seconds
        out.pts = round(self._seconds * self.RATE)
        out.time_base = fractions.Fraction(1, self.RATE)
        self._seconds += out.samples / self.RATE
        return out

    async def _fill(self) -> None:
        frame = await self._pull()
        if frame is None:
            if self._start is not None and self._source is None:
                delay = self._start + self._seconds - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._ready.append(silence(int(self.RATE * self._ptime), self.RATE, self.LAYOUT))
            self.filler_frames += 1
            return
        assert isinstance(frame, AudioFrame)
        self.source_frames += 1
        for converted in self._convert(frame):
            if self.muted:
                converted = silence(converted.samples, self.RATE, self.LAYOUT)
            self._ready.append(converted)

    def _convert(self, frame: AudioFrame) -> list[AudioFrame]:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key == ("s16", self.LAYOUT, self.RATE):
            return [frame]
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = AudioResampler(format="s16", layout=self.LAYOUT, rate=self.RATE)
            self._resamplers[key] = resampler
        frame.pts = None  # the resampler would otherwise check continuity against our clock
        return list(resampler.resample(frame))


class SendingTrack(MediaStreamTrack):
    """One peer connection's view of a long-lived track: what its sender is given.

    aiortc stops a sender's track whenever the sender stops, including when the far end
    closes the connection (its DTLS transport goes down and the sender's loop ends). Only this
    view is stopped then; the long-lived track goes on for the next connection.
    """

    def __init__(self, track: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = track.kind
        self.track = track

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        return await self.track.recv()
