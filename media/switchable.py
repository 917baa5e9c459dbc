"""Long-lived tracks whose upstream can be swapped without the sender noticing.

aiortc's sender dies for good once its track ends, so what a sender is given should never end
until the call does. A switchable track:

* pulls its current upstream in a pump task it owns, into a small buffer;
* hands frames on as they arrive (adding no latency), limited to the configured rate by a
  :class:`~media.clock.Pacer` that tolerates a frame of jitter;
* fills in when there is nothing to send: black / silence when there is no upstream or it
  has ended; for video from a live but stalled upstream, the last picture again every
  ``hold`` seconds (a keep-alive); for audio, silence padding once a frame is ``grace``
  seconds overdue;
* stamps everything on its own continuous clock (video 1/90000 from elapsed time, strictly
  increasing; audio in samples, contiguous), so timestamps never jump back across swaps;
* raises ``MediaStreamError`` only once it has itself been stopped.

Frames taken from upstream are re-stamped in place: a switchable owns what it pulls, so an
upstream track should feed one switchable only. Swapping does not stop the old upstream;
whoever created it does that.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections import deque

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, VideoFrame

from .clock import AUDIO_SAMPLE_RATE, VIDEO_CLOCK_RATE, VIDEO_TIME_BASE, MediaClock, Pacer
from .errors import TrackStoppedError
from .synthetic import black_frame

log = logging.getLogger(__name__)


class _Switchable(MediaStreamTrack):
    """Shared plumbing: the pump task, wake-ups and stopping."""

    def __init__(self, clock: MediaClock | None) -> None:
        super().__init__()
        self.clock = clock or MediaClock()
        self._source: MediaStreamTrack | None = None
        self._source_live = False
        self._pump: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.switches = 0

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    def set_source(self, track: MediaStreamTrack | None) -> None:
        """Feed from ``track`` from now on (None: black or silence). Never ends this track."""
        if track is not None and track.kind != self.kind:
            raise ValueError(f"a {self.kind} switchable track cannot take a {track.kind} source")
        if self.readyState != "live":
            raise TrackStoppedError(f"switchable {self.kind} track is stopped; cannot set a source")
        self._retire_pump()
        self._source = track
        self._source_live = track is not None
        self.switches += 1
        self._on_switch()
        if track is not None:
            loop = asyncio.get_running_loop()
            self._pump = loop.create_task(self._run_pump(track), name=f"switchable-{self.kind}")
        self._wake.set()

    def _retire_pump(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None and not pump.done():
            pump.cancel()
            self._retired.add(pump)
            pump.add_done_callback(self._retired.discard)

    async def _run_pump(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self._accept(frame)
                self._wake.set()
        except MediaStreamError:
            log.debug("switchable %s: upstream %s ended", self.kind, track.id)
        except Exception:
            log.exception("switchable %s: upstream %s failed; filling in", self.kind, track.id)
        if self._source is track:
            self._source_live = False
            self._wake.set()

    async def _wait(self, seconds: float) -> None:
        """Wait for upstream news (a frame, a swap, a stop) or until ``seconds`` pass."""
        self._wake.clear()
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _check_live(self) -> None:
        if self.readyState != "live":
            raise MediaStreamError

    def _on_switch(self) -> None:
        """Hook: drop buffered upstream media when the source changes."""

    def _accept(self, frame: object) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop for good (idempotent): cancels the pump; ``recv`` raises from now on."""
        if self.readyState == "live":
            self._retire_pump()
            self._source = None
            self._source_live = False
            self._wake.set()
        super().stop()

    async def close(self) -> None:
        """Stop and wait for the pump tasks to finish. Safe to call more than once."""
        self.stop()
        retired = list(self._retired)
        if retired:
            await asyncio.wait(retired)  # (suppressing CancelledError would eat ours)


class SwitchableVideoTrack(_Switchable):
    kind = "video"

    def __init__(
        self,
        *,
        fps: float = 30.0,
        width: int = 640,
        height: int = 360,
        hold: float = 0.5,
        clock: MediaClock | None = None,
    ) -> None:
        super().__init__(clock)
        self.fps = fps
        self.hold = hold
        self._size = (width, height)
        self._pacer = Pacer(1.0 / fps, tolerance=1.0 / fps)
        self._buffer: deque[VideoFrame] = deque(maxlen=2)
        self._last: VideoFrame | None = None
        self._last_time = 0.0
        self._last_pts = -1
        self.frames_out = 0
        self.frames_filled = 0
        self.frames_dropped = 0

    def _accept(self, frame: object) -> None:
        if not isinstance(frame, VideoFrame):
            raise TypeError(f"video upstream produced {type(frame).__name__}")
        if len(self._buffer) == self._buffer.maxlen:
            self.frames_dropped += 1
        self._buffer.append(frame)

    def _on_switch(self) -> None:
        self._buffer.clear()

    async def recv(self) -> VideoFrame:
        self._check_live()
        while True:
            if self._buffer:
                await asyncio.sleep(self._pacer.delay(self.clock.now()))
                self._check_live()
                if self._buffer:
                    return self._emit(self._buffer.popleft(), filled=False)
                continue
            now = self.clock.now()
            if self._source_live:
                due = max(self._last_time + self.hold, self._pacer.next_due or now)
            else:
                due = self._pacer.next_due or now
            await self._wait(due - now)
            self._check_live()
            if not self._buffer and self.clock.now() >= due - 1e-3:
                return self._emit(self._fill_frame(), filled=True)

    def _fill_frame(self) -> VideoFrame:
        # always a new object: a consumer may still hold the frames it had before
        if self._source_live and self._last is not None:
            return _copy(self._last)
        return black_frame(*self._size)

    def _emit(self, frame: VideoFrame, *, filled: bool) -> VideoFrame:
        now = self.clock.now()
        self._pacer.commit(now)
        pts = max(round(now * VIDEO_CLOCK_RATE), self._last_pts + 1)
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        self._size = (frame.width, frame.height)
        if not filled:
            self._last = frame
        self._last_time = now
        self.frames_out += 1
        self.frames_filled += int(filled)
        return frame


def _copy(frame: VideoFrame) -> VideoFrame:
    if frame.format.name != "yuv420p":
        return frame.reformat(format="yuv420p")
    return VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")


class SwitchableAudioTrack(_Switchable):
    """20 ms frames of s16 at 48 kHz (``layout`` mono or stereo), whatever the upstream gives."""

    kind = "audio"

    def __init__(
        self,
        *,
        layout: str = "stereo",
        grace: float = 0.04,
        max_buffer: float = 0.2,
        clock: MediaClock | None = None,
    ) -> None:
        super().__init__(clock)
        if layout not in ("mono", "stereo"):
            raise ValueError(f"layout must be mono or stereo, got {layout!r}")
        self.layout = layout
        self.channels = 2 if layout == "stereo" else 1
        self.sample_rate = AUDIO_SAMPLE_RATE
        self.samples_per_frame = AUDIO_SAMPLE_RATE // 50
        self.grace = grace
        self._max_samples = int(max_buffer * AUDIO_SAMPLE_RATE)
        self._pacer = Pacer(0.02, tolerance=0.04)
        self._time_base = fractions.Fraction(1, AUDIO_SAMPLE_RATE)
        self._chunks: deque[np.ndarray] = deque()  # (samples, channels) int16
        self._buffered = 0
        self._resampler: AudioResampler | None = None
        self._upmix = False
        self._next_pts = 0
        self.frames_out = 0
        self.samples_filled = 0
        self.samples_dropped = 0

    def _on_switch(self) -> None:
        self._chunks.clear()
        self._buffered = 0
        self._resampler = None  # a new source may have another rate or layout

    def _accept(self, frame: object) -> None:
        if not isinstance(frame, AudioFrame):
            raise TypeError(f"audio upstream produced {type(frame).__name__}")
        if self._resampler is None:
            # swresample lowers mono by 3 dB when making stereo of it; duplicating keeps levels
            self._upmix = frame.layout.name == "mono" and self.channels == 2
            layout = "mono" if self._upmix else self.layout
            self._resampler = AudioResampler(format="s16", layout=layout, rate=AUDIO_SAMPLE_RATE)
        for out in self._resampler.resample(frame):
            data: np.ndarray = out.to_ndarray().reshape(-1, 1 if self._upmix else self.channels)
            if self._upmix:
                data = np.repeat(data, 2, axis=1)
            self._chunks.append(data)
            self._buffered += data.shape[0]
        excess = self._buffered - self._max_samples
        if excess > 0:
            self._take(excess)
            self.samples_dropped += excess

    def _take(self, count: int) -> np.ndarray:
        out = np.zeros((count, self.channels), np.int16)
        filled = 0
        while filled < count and self._chunks:
            chunk = self._chunks[0]
            n = min(count - filled, chunk.shape[0])
            out[filled : filled + n] = chunk[:n]
            filled += n
            if n == chunk.shape[0]:
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
        self._buffered -= filled
        return out

    async def recv(self) -> AudioFrame:
        self._check_live()
        spf = self.samples_per_frame
        while True:
            if self._buffered >= spf:
                await asyncio.sleep(self._pacer.delay(self.clock.now()))
                self._check_live()
                if self._buffered >= spf:
                    return self._emit(self._take(spf), filled=0)
                continue
            now = self.clock.now()
            due = self._pacer.next_due or now
            if self._source_live:
                due += self.grace
            await self._wait(due - now)
            self._check_live()
            if self._buffered < spf and self.clock.now() >= due - 1e-3:
                filled = spf - self._buffered
                return self._emit(self._take(spf), filled=filled)

    def _emit(self, samples: np.ndarray, *, filled: int) -> AudioFrame:
        self._pacer.commit(self.clock.now())
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=self.layout)
        frame.sample_rate = AUDIO_SAMPLE_RATE
        frame.time_base = self._time_base
        frame.pts = self._next_pts
        self._next_pts += samples.shape[0]
        self.frames_out += 1
        self.samples_filled += filled
        return frame
