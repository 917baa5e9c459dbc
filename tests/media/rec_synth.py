"""Synthetic tracks and file analysis for the recorder and sink tests.

Video frames carry their frame number as a row of 12 black/white blocks and turn white at
``event_at``; audio is silence with a 10 ms full-scale click at ``event_at``. Both tracks take
their times from a shared clock, so they are in sync when they arrive: real time
(:class:`RealTime`) or a virtual clock that runs as fast as the consumer pulls
(:class:`VirtualTime`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

BITS = 12
BLOCK = 24
DARK, LIGHT, WHITE = 16, 235, 235
CLICK_SAMPLES = 480
CLICK_LEVEL = 20000


class RealTime:
    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, t: float) -> None:
        await asyncio.sleep(max(0.0, t - time.monotonic()))

    def join(self) -> None:
        pass

    def leave(self) -> None:
        pass


class VirtualTime:
    """Discrete-event clock: time jumps to the earliest waiter once every track is waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._participants = 0
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def join(self) -> None:
        self._participants += 1

    def leave(self) -> None:
        self._participants -= 1
        self._release()

    async def sleep_until(self, t: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (t, next(self._seq), fut))
        self._release()
        await fut

    def _release(self) -> None:
        if self._heap and len(self._heap) >= self._participants:
            t, _, fut = heapq.heappop(self._heap)
            self._now = max(self._now, t)
            if not fut.done():
                fut.set_result(None)


Clock = RealTime | VirtualTime


def video_picture(number: int, width: int, height: int, *, flash: bool) -> VideoFrame:
    yuv = np.full((height * 3 // 2, width), 128, np.uint8)
    yuv[:height] = WHITE if flash else 60
    for bit in range(BITS):
        on = (number >> bit) & 1
        x = 4 + bit * BLOCK
        yuv[4 : 4 + BLOCK, x : x + BLOCK] = LIGHT if on else DARK
    return VideoFrame.from_ndarray(yuv, format="yuv420p")


def read_number(frame: VideoFrame) -> int:
    y = frame.reformat(format="gray").to_ndarray()
    number = 0
    for bit in range(BITS):
        x = 4 + bit * BLOCK
        block = y[4 + 6 : 4 + BLOCK - 6, x + 6 : x + BLOCK - 6]
        if block.mean() > 128:
            number |= 1 << bit
    return number


def is_flash(frame: VideoFrame) -> bool:
    y = frame.reformat(format="gray").to_ndarray()
    return bool(y[BLOCK + 12 :].mean() > 180)


class SynthVideo(MediaStreamTrack):
    kind = "video"

    def __init__(
        self,
        clock: Clock,
        t_ref: float,
        *,
        fps: int = 30,
        size: tuple[int, int] = (320, 240),
        delay: float = 0.0,
        duration: float = 3.0,
        event_at: float | None = None,
        pts_offset: int = 123_456_789,
        sizes: dict[int, tuple[int, int]] | None = None,
        pts_jumps: dict[int, int] | None = None,
        fail_after: int | None = None,
    ) -> None:
        super().__init__()
        self._clock, self._t_ref, self._fps = clock, t_ref, fps
        self._size, self._sizes = size, sizes or {}
        self._delay, self._duration, self._event_at = delay, duration, event_at
        self._pts_offset, self._fail_after = pts_offset, fail_after
        self._pts_jumps = pts_jumps or {}
        self._n = 0
        self.sent = 0
        clock.join()

    async def recv(self) -> VideoFrame:
        n = self._n
        t = self._delay + n / self._fps
        if t >= self._delay + self._duration or self.readyState == "ended":
            self._finish()
            raise MediaStreamError
        await self._clock.sleep_until(self._t_ref + t)
        if self._fail_after is not None and n >= self._fail_after:
            self._finish()
            raise RuntimeError("synthetic video track failed on purpose")
        self._size = self._sizes.get(n, self._size)
        self._pts_offset += self._pts_jumps.get(n, 0)
        flash = self._event_at is not None and abs(t - self._event_at) < 0.5 / self._fps
        frame = video_picture(n, *self._size, flash=flash)
        frame.pts = self._pts_offset + round(n * 90000 / self._fps)
        frame.time_base = Fraction(1, 90000)
        self._n += 1
        self.sent += 1
        return frame

    def _finish(self) -> None:
        if self.readyState != "ended":
            self._clock.leave()
            self.stop()


class SynthAudio(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self,
        clock: Clock,
        t_ref: float,
        *,
        delay: float = 0.0,
        duration: float = 3.0,
        event_at: float | None = None,
        pts_offset: int = 987_654,
        gap: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self._clock, self._t_ref = clock, t_ref
        self._delay, self._duration, self._event_at = delay, duration, event_at
        self._pts_offset, self._gap = pts_offset, gap
        self._n = 0
        self.sent = 0
        clock.join()

    async def recv(self) -> AudioFrame:
        while True:
            n = self._n
            t = self._delay + n * 0.02
            if t >= self._delay + self._duration or self.readyState == "ended":
                if self.readyState != "ended":
                    self._clock.leave()
                    self.stop()
                raise MediaStreamError
            self._n += 1
            if self._gap is None or not self._gap[0] <= t < self._gap[1]:
                break  # frames inside the gap are "lost": never delivered
        await self._clock.sleep_until(self._t_ref + t)
        samples = np.zeros((960, 2), np.int16)
        if self._event_at is not None:
            start = round((self._event_at - t) * 48000)
            if -CLICK_SAMPLES < start < 960:
                samples[max(0, start) : max(0, start + CLICK_SAMPLES)] = CLICK_LEVEL
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = self._pts_offset + n * 960
        frame.time_base = Fraction(1, 48000)
        self.sent += 1
        return frame


@dataclass
class Analysis:
    kinds: set[str] = field(default_factory=set)
    duration: float | None = None  # container duration, s (None if the file has none)
    start: float | None = None
    video_times: list[float] = field(default_factory=list)
    video_numbers: list[int] = field(default_factory=list)
    video_size: tuple[int, int] | None = None
    flash_at: float | None = None
    audio_first: float | None = None
    audio_end: float | None = None
    click_at: float | None = None
    video_packets: int = 0
    keyframe_times: list[float] = field(default_factory=list)  # of video packets
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def video_first(self) -> float | None:
        return self.video_times[0] if self.video_times else None

    @property
    def media_end(self) -> float:
        ends = [self.audio_end or 0.0, self.video_times[-1] if self.video_times else 0.0]
        return max(ends)


def analyse(path: Path, *, numbers: bool = True) -> Analysis:
    """Demux and decode every packet of ``path``; decoding errors propagate."""
    result = Analysis()
    with av.open(str(path)) as container:
        result.kinds = {s.type for s in container.streams}
        result.metadata = dict(container.metadata)
        if container.duration is not None:
            result.duration = container.duration / 1e6
        if container.start_time is not None:
            result.start = container.start_time / 1e6
        for packet in container.demux():
            if packet.size == 0:
                continue
            if packet.stream.type == "video":
                result.video_packets += 1
                if packet.is_keyframe and packet.pts is not None:
                    result.keyframe_times.append(float(packet.pts * packet.time_base))
            for frame in packet.decode():
                if isinstance(frame, VideoFrame):
                    _video(result, frame, numbers)
                elif isinstance(frame, AudioFrame):
                    _audio(result, frame)
    return result


def _video(result: Analysis, frame: VideoFrame, numbers: bool) -> None:
    assert frame.time is not None
    result.video_times.append(frame.time)
    result.video_size = (frame.width, frame.height)
    if numbers:
        result.video_numbers.append(read_number(frame))
    if result.flash_at is None and is_flash(frame):
        result.flash_at = frame.time


def _audio(result: Analysis, frame: AudioFrame) -> None:
    assert frame.time is not None
    if result.audio_first is None:
        result.audio_first = frame.time
    result.audio_end = frame.time + frame.samples / frame.sample_rate
    if result.click_at is None:
        data = frame.to_ndarray()
        channel = (
            data[0]
            if frame.format.is_planar
            else data.reshape(-1, len(frame.layout.channels))[:, 0]
        )
        loud = np.flatnonzero(
            np.abs(channel.astype(np.float64))
            > 0.25 * (1.0 if channel.dtype.kind == "f" else 32768.0)
        )
        if len(loud):
            result.click_at = frame.time + int(loud[0]) / frame.sample_rate


async def wait_ended(*tracks: MediaStreamTrack, limit: float = 60.0) -> None:
    """Wait (at most ``limit`` seconds) until every track has ended."""
    events = []
    for track in tracks:
        event = asyncio.Event()
        if track.readyState == "ended":
            event.set()
        else:
            track.on("ended", event.set)
        events.append(event)
    async with asyncio.timeout(limit):
        for event in events:
            await event.wait()
