"""Kit for the composed-conference tests: participants sending numbered test patterns and
distinct tones, receivers that keep the newest picture and the last second of sound, and the
readers that say whose picture sits in which tile and which tones are in the mix.

Each participant's frame numbers start at ``FIRST * (index + 1)``, so a code read anywhere in a
composed picture names its sender. Sizes are small (320x180, 15 fps) for a loaded 2-core box.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.pattern import find_codes
from media.synthetic import PatternVideoSource, SilenceAudioSource, ToneAudioSource
from media.tone import ToneSpec
from pexbot import wire
from pexbot.call.media_call import CallOptions, CallSignalling, MediaCall
from pexbot.emulator.media.backend import CallContext, MediaBackend
from pexbot.emulator.media.layouts import Rect

SIZE = (320, 180)
FPS = 15.0
FIRST = 1_000_000
TONES = (500.0, 700.0, 900.0, 1100.0)


class NumberedPattern(PatternVideoSource):
    """The pattern with frame numbers from ``first`` and a large code (module 8), which stays
    readable at half size in a 2x2 tile."""

    def __init__(self, first: int) -> None:
        super().__init__(SIZE[0], SIZE[1], fps=FPS, module=8)
        self.first = first

    async def render(self, index: int, t: float) -> VideoFrame:
        return await super().render(index + self.first, t)


def owner(number: int) -> int:
    """The index of the participant whose pattern carries ``number``."""
    return number // FIRST - 1


@dataclass(frozen=True)
class Seen:
    who: int
    x: float
    y: float
    module: float


def codes_in(frame: VideoFrame) -> list[Seen]:
    rgb = frame.to_ndarray(format="rgb24")
    return [Seen(owner(c.number), c.x, c.y, c.module_x) for c in find_codes(rgb)]


def inside(seen: Seen, rect: Rect) -> bool:
    return rect.x <= seen.x < rect.x + rect.w and rect.y <= seen.y < rect.y + rect.h


@dataclass
class Receiver:
    """Reads one received track in a task it owns: newest video frame, last second of audio."""

    track: MediaStreamTrack
    frames: int = 0
    last: VideoFrame | None = None
    last_at: float = 0.0
    pcm: collections.deque[np.ndarray] = field(default_factory=lambda: collections.deque(maxlen=50))
    _task: asyncio.Task[None] | None = None

    def start(self) -> Receiver:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await self.track.recv()
                self.frames += 1
                if isinstance(frame, VideoFrame):
                    self.last, self.last_at = frame, time.monotonic()
                elif isinstance(frame, AudioFrame):
                    data = frame.to_ndarray().reshape(-1).astype(np.float64)
                    channels = len(frame.layout.channels)
                    self.pcm.append(data.reshape(-1, channels).mean(axis=1))

    async def picture_after(self, moment: float, within: float = 20.0) -> VideoFrame:
        """The first picture that arrived after ``moment`` (time.monotonic())."""
        await wait_until(lambda: self.last is not None and self.last_at > moment, within)
        assert self.last is not None
        return self.last

    def tone_levels(self, freqs: tuple[float, ...]) -> list[float]:
        """Amplitude (full scale = 1) of each frequency over the last ~0.5 s of audio."""
        if not self.pcm:
            return [0.0] * len(freqs)
        mono = np.concatenate(list(self.pcm))[-24000:] / 32768.0
        t = np.arange(mono.size) / 48000.0
        window = np.hanning(mono.size)
        scale = 2.0 / window.sum()
        windowed = mono * window
        return [float(abs(np.dot(windowed, np.exp(-2j * np.pi * f * t))) * scale) for f in freqs]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Received:
    """An ``on_track`` that starts a :class:`Receiver` per main track."""

    def __init__(self) -> None:
        self.by_kind: dict[str, Receiver] = {}

    def __call__(self, role: str, track: MediaStreamTrack) -> None:
        if role == "main":
            self.by_kind[track.kind] = Receiver(track).start()

    async def get(self, kind: str, within: float = 20.0) -> Receiver:
        await wait_until(lambda: kind in self.by_kind, within, f"a {kind} track")
        return self.by_kind[kind]

    async def close(self) -> None:
        for receiver in self.by_kind.values():
            await receiver.close()


def sources(index: int, *, silent: bool = False) -> tuple[MediaStreamTrack, MediaStreamTrack]:
    """(audio, video) of participant ``index``: its tone (or silence) and numbered pattern."""
    audio: MediaStreamTrack
    if silent:
        audio = SilenceAudioSource()
    else:
        freq = TONES[index]
        audio = ToneAudioSource(ToneSpec(frequency=freq, marker_frequency=freq + 20))
    return audio, NumberedPattern(FIRST * (index + 1))


def options(**kw: Any) -> CallOptions:
    return CallOptions(video_codec="vp8", ice_timeout=20.0, **kw)


class BackendSignalling:
    """CallSignalling straight into a MediaBackend (no node, no HTTP)."""

    def __init__(
        self,
        backend: MediaBackend,
        participant: str,
        room: str = "room",
        service_type: str = "conference",
    ) -> None:
        self.backend = backend
        self.participant = participant
        self.room = room
        self.service_type = service_type

    async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult:
        call_uuid = str(uuidlib.uuid4())
        ctx = CallContext(
            conference_id=self.room,
            conference_alias=self.room,
            participant_uuid=self.participant,
            display_name=self.participant,
            call_uuid=call_uuid,
            media_type=body.media_type or "video",
            present=body.present,
            service_type=self.service_type,
            room_id=self.room,
        )
        answer = await self.backend.open_call(ctx, body.sdp)
        return wire.CallsResult(call_uuid=call_uuid, sdp=answer)

    async def new_candidate(self, call_uuid: str, body: wire.NewCandidateBody) -> None:
        await self.backend.add_remote_candidate(call_uuid, body.candidate, body.mid)

    async def ack(self, call_uuid: str, body: wire.AckBody) -> None:
        await self.backend.ack(call_uuid)

    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str | wire.UpdateResult:
        return await self.backend.update_call(call_uuid, body.sdp)

    async def disconnect_call(self, call_uuid: str) -> None:
        await self.backend.close_call(call_uuid)

    async def call_dtmf(self, call_uuid: str, digits: str) -> None:
        pass

    async def take_floor(self) -> None:
        pass

    async def release_floor(self) -> None:
        pass


@dataclass
class Party:
    call: MediaCall
    received: Received


async def join(
    signalling: CallSignalling, index: int, *, silent: bool = False, audio_only: bool = False
) -> Party:
    received = Received()
    audio, video = sources(index, silent=silent)
    kw: dict[str, Any] = {"media_type": "audio"} if audio_only else {}
    call = MediaCall(
        signalling,
        options(**kw),
        audio=audio,
        video=None if audio_only else video,
        on_track=received,
    )
    await call.start()
    return Party(call, received)


async def leave(*parties: Party) -> None:
    for party in parties:
        with contextlib.suppress(Exception):
            await party.call.disconnect()
        await party.received.close()


async def wait_until(
    predicate: Callable[[], bool], within: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)
