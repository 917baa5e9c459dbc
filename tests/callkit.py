"""Test kit for media calls: an in-process signalling that drives the emulator's media backend
directly (recording the wire order), test sources that stamp a frame number into each frame,
and a collector that consumes a received track."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from pexbot import wire
from pexbot.emulator.media.backend import CallContext, MediaBackend

BARS = 8


class FakeSignalling:
    """CallSignalling for one participant, backed by a MediaBackend; records every request."""

    def __init__(
        self,
        backend: MediaBackend,
        *,
        participant: str = "alice",
        conference: str = "conf",
        service_type: str = "conference",
        forward_candidates: bool = True,
    ) -> None:
        self.backend = backend
        self.participant = participant
        self.conference = conference
        self.service_type = service_type
        self.forward_candidates = forward_candidates
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.answer_rewriter: Any = None  # callable(str) -> str, to break answers on purpose

    async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult:
        self.records.append(("calls", body.body()))
        call_uuid = str(uuid.uuid4())
        ctx = CallContext(
            conference_id=self.conference,
            conference_alias=self.conference,
            participant_uuid=f"{self.participant}-uuid",
            display_name=self.participant,
            call_uuid=call_uuid,
            media_type=body.media_type or "video",
            present=body.present,
            service_type=self.service_type,
            room_id=self.conference,
        )
        answer = await self.backend.open_call(ctx, body.sdp)
        if self.answer_rewriter is not None:
            answer = self.answer_rewriter(answer)
        return wire.CallsResult(call_uuid=call_uuid, sdp=answer)

    async def new_candidate(self, call_uuid: str, body: wire.NewCandidateBody) -> None:
        self.records.append(("new_candidate", body.body()))
        if self.forward_candidates:
            await self.backend.add_remote_candidate(call_uuid, body.candidate, body.mid)

    async def ack(self, call_uuid: str, body: wire.AckBody) -> None:
        self.records.append(("ack", body.body()))
        await self.backend.ack(call_uuid)

    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str | wire.UpdateResult:
        self.records.append(("update", body.body()))
        return await self.backend.update_call(call_uuid, body.sdp)

    async def disconnect_call(self, call_uuid: str) -> None:
        self.records.append(("disconnect", {}))
        await self.backend.close_call(call_uuid)

    async def call_dtmf(self, call_uuid: str, digits: str) -> None:
        self.records.append(("dtmf", {"digits": digits}))

    async def take_floor(self) -> None:
        self.records.append(("take_floor", {}))

    async def release_floor(self) -> None:
        self.records.append(("release_floor", {}))

    def names(self) -> list[str]:
        return [name for name, _ in self.records]


class PatternVideo(MediaStreamTrack):
    """Solid ``colour`` (RGB) with the frame number as 8 black/white bars in the bottom third."""

    kind = "video"

    def __init__(
        self, colour: tuple[int, int, int], size: tuple[int, int] = (320, 180), fps: float = 15.0
    ) -> None:
        super().__init__()
        self.colour = colour
        self.size = size
        self.interval = 1.0 / fps
        self.count = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self.count * self.interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        width, height = self.size
        image = np.empty((height, width, 3), dtype=np.uint8)
        image[...] = self.colour
        bar_w = width // BARS
        for bit in range(BARS):
            value = 255 if (self.count >> bit) & 1 else 0
            image[height * 2 // 3 :, bit * bar_w : (bit + 1) * bar_w] = value
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(self.count * self.interval * 90000)
        frame.time_base = fractions.Fraction(1, 90000)
        self.count += 1
        return frame


def read_pattern(frame: object) -> tuple[tuple[int, int, int], int]:
    """(mean colour of the top third, frame number & 0xFF) of a PatternVideo frame."""
    assert isinstance(frame, VideoFrame), f"not a video frame: {frame!r}"
    rgb = frame.to_ndarray(format="rgb24").astype(np.int32)
    height, width = rgb.shape[:2]
    top = rgb[height // 12 : height // 2, width // 8 : width * 7 // 8].reshape(-1, 3).mean(axis=0)
    bar_w = width // BARS
    number = 0
    for bit in range(BARS):
        cell = rgb[height * 5 // 6, bit * bar_w + bar_w // 2]
        if cell.mean() > 128:
            number |= 1 << bit
    colour = (int(top[0]), int(top[1]), int(top[2]))
    return colour, number


def close_colour(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 40) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= tolerance


class ToneAudio(MediaStreamTrack):
    """A 440 Hz tone in 20 ms mono frames at 48 kHz, paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self.frequency = frequency
        self.samples = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self.samples / 48000 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(960) + self.samples) / 48000
        pcm = (np.sin(2 * math.pi * self.frequency * t) * 8000).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, 48000)
        self.samples += 960
        return frame


@dataclass
class Collector:
    """Consumes one track in a task it owns; keeps counts and the latest frame."""

    track: MediaStreamTrack
    frames: int = 0
    first_at: float | None = None
    last: Any = None
    rms: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _started: float = field(default_factory=time.monotonic)

    def start(self) -> Collector:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await self.track.recv()
                if self.first_at is None:
                    self.first_at = time.monotonic() - self._started
                self.frames += 1
                self.last = frame
                if isinstance(frame, AudioFrame):
                    pcm = frame.to_ndarray().astype(np.float64)
                    self.rms.append(float(np.sqrt((pcm**2).mean())))

    async def wait_for(self, frames: int, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while self.frames < frames:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.frames} of {frames} {self.track.kind} frames")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Tracks:
    """on_track target: collects every remote track of a MediaCall by (role, kind)."""

    def __init__(self) -> None:
        self.collectors: dict[tuple[str, str], Collector] = {}

    def __call__(self, role: str, track: MediaStreamTrack) -> None:
        self.collectors[(role, track.kind)] = Collector(track).start()

    async def get(self, role: str, kind: str, within: float = 20.0) -> Collector:
        deadline = time.monotonic() + within
        while (role, kind) not in self.collectors:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {role} {kind} track; got {list(self.collectors)}")
            await asyncio.sleep(0.05)
        return self.collectors[(role, kind)]

    async def close(self) -> None:
        for collector in self.collectors.values():
            await collector.close()


async def wait_until(predicate: Any, within: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
