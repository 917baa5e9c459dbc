"""Time for sources: a shared media clock, a pacer, and paced generator tracks.

Conventions every source in this package follows:

* Stream time is seconds since the clock started (it starts on the first ``recv``, so set-up
  time before a sender pulls is not counted as lateness).
* Capture timestamps are wall-clock milliseconds (``time.time()``) of a frame's scheduled time.
  In 32 bits (:func:`ms32`) they wrap every ~49.7 days; readers compare them modulo 2**32.
  A receiver in the same process (or on an NTP-synchronised machine) gets latency by
  subtracting a capture timestamp from its own wall clock.
* Video pts count 1/90000 s, audio pts count samples (1/sample_rate).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from abc import abstractmethod
from collections.abc import Callable

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

VIDEO_CLOCK_RATE = 90000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
AUDIO_SAMPLE_RATE = 48000
AUDIO_FRAME_SECONDS = 0.020
# A generator further behind its schedule than this skips ahead instead of bursting.
MAX_BEHIND_SECONDS = 0.5


def ms32(wall_ms: float) -> int:
    """Wall-clock milliseconds truncated to the 32 bits a pattern frame carries."""
    return int(wall_ms) & 0xFFFFFFFF


def wall_ms() -> float:
    return time.time() * 1000.0


class MediaClock:
    """A monotonic stream clock plus the wall-clock time at which it started.

    Tracks that share one clock are in sync (the audio and video of a file, a pattern source
    and a tone source whose A/V offset is to be measured).
    """

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._start: float | None = None
        self._start_wall_ms = 0.0

    @property
    def started(self) -> bool:
        return self._start is not None

    def start(self) -> None:
        """Start the clock now. Later calls do nothing."""
        if self._start is None:
            self._start = self._monotonic()
            self._start_wall_ms = self._wall() * 1000.0

    def now(self) -> float:
        """Stream seconds since the start (starting the clock if needed)."""
        self.start()
        assert self._start is not None
        return self._monotonic() - self._start

    @property
    def start_wall_ms(self) -> float:
        self.start()
        return self._start_wall_ms

    def wall_ms(self, stream_seconds: float) -> float:
        """Wall-clock milliseconds of a stream time."""
        return self.start_wall_ms + stream_seconds * 1000.0

    async def sleep_until(self, stream_seconds: float) -> None:
        delay = stream_seconds - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class Pacer:
    """Generic cell rate algorithm: at most one frame per ``period`` on average.

    ``tolerance`` lets a frame go out that much early, so jitter in an upstream that runs at the
    same rate is passed through rather than turned into added delay.
    """

    def __init__(self, period: float, tolerance: float) -> None:
        self.period = period
        self.tolerance = tolerance
        self._tat: float | None = None  # theoretical arrival time of the next frame

    @property
    def next_due(self) -> float | None:
        return self._tat

    def delay(self, now: float) -> float:
        """Seconds to wait before the next frame may go."""
        if self._tat is None:
            return 0.0
        return max(0.0, self._tat - self.tolerance - now)

    def commit(self, now: float) -> None:
        """Record that a frame went out at ``now``."""
        base = now if self._tat is None else max(self._tat, now)
        self._tat = base + self.period


class PacedVideoTrack(MediaStreamTrack):
    """A video track producing frame ``k`` at stream time ``k / fps``.

    Subclasses implement :meth:`render`; pacing, timestamps and ending live here, so a frame
    generator can be reused by something that is not a track (an encoder feeding packets).
    """

    kind = "video"

    def __init__(self, *, fps: float = 30.0, clock: MediaClock | None = None) -> None:
        super().__init__()
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.clock = clock or MediaClock()
        self.frame_index = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        behind = self.clock.now() - self.frame_index / self.fps
        if behind > MAX_BEHIND_SECONDS:
            self.frame_index += int(behind * self.fps)
        t = self.frame_index / self.fps
        await self.clock.sleep_until(t)
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self.render(self.frame_index, t)
        frame.pts = round(t * VIDEO_CLOCK_RATE)
        frame.time_base = VIDEO_TIME_BASE
        self.frame_index += 1
        return frame

    @abstractmethod
    async def render(self, index: int, t: float) -> VideoFrame:
        """Frame ``index``, due at stream time ``t``."""


class PacedAudioTrack(MediaStreamTrack):
    """An audio track producing fixed-size frames at ``sample_rate``, paced in real time.

    Frame ``k`` holds the samples captured from stream time ``t = k * frame_seconds`` on and is
    released at ``t + frame_seconds``, when a microphone would have delivered it.
    """

    kind = "audio"

    def __init__(
        self,
        *,
        sample_rate: int = AUDIO_SAMPLE_RATE,
        frame_seconds: float = AUDIO_FRAME_SECONDS,
        clock: MediaClock | None = None,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.samples_per_frame = round(sample_rate * frame_seconds)
        if self.samples_per_frame <= 0:
            raise ValueError(f"frame of {frame_seconds} s at {sample_rate} Hz has no samples")
        self.clock = clock or MediaClock()
        self.frame_index = 0
        self.time_base = fractions.Fraction(1, sample_rate)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        spf = self.samples_per_frame
        behind = self.clock.now() - self.frame_index * spf / self.sample_rate
        if behind > MAX_BEHIND_SECONDS:
            self.frame_index += int(behind * self.sample_rate / spf)
        first_sample = self.frame_index * spf
        t = first_sample / self.sample_rate
        # like a capture device: a frame is complete once its last sample has been captured
        await self.clock.sleep_until(t + spf / self.sample_rate)
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self.render(self.frame_index, first_sample, t)
        frame.pts = first_sample
        frame.sample_rate = self.sample_rate
        frame.time_base = self.time_base
        self.frame_index += 1
        return frame

    @abstractmethod
    async def render(self, index: int, first_sample: int, t: float) -> AudioFrame:
        """Frame ``index`` (``samples_per_frame`` samples from ``first_sample``), due at ``t``."""
