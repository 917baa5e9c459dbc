"""Kit for the integration tests: pexbots over real HTTP against the emulator with real aiortc
media on loopback, numbered test patterns, and a sink that keeps the numbers it reads in order.

Sizes and rates are kept small (320x180, 15 fps) so that two bots plus the emulator, which
decodes and re-encodes every stream, fit on a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import itertools
import statistics
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
import numpy as np
from aioice import stun
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media import Analyser, PatternVideoSource, Sink
from media.analyser import luma_plane
from media.pattern import Code, find_codes
from media.sink import Kind
from media.synthetic import PatternRenderer
from media.tone import ToneSpec, tone_samples
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.http.traffic import Exchange
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.router import RelayRouter

SIZE = (320, 180)
FPS = 15.0
ALIAS = "meet"
#: each sender's frame numbers start here, so a receiver can tell whose frames it got
ALICE_FIRST = 0
BOB_FIRST = 1_000_000
RANGE = 500_000


@contextlib.asynccontextmanager
async def media_emulator(**config_options: object) -> AsyncIterator[Emulator]:
    """An emulator with conference ``meet`` whose calls are answered by aiortc, relaying 1:1
    (not composing); ``config_options`` go to :class:`EmulatorConfig`."""
    backend = AiortcMediaBackend(router_factory=RelayRouter, card_size=SIZE, fps=FPS)
    config = EmulatorConfig(
        conferences=[ConferenceConfig(aliases=[ALIAS])],
        **config_options,  # type: ignore[arg-type]
    )
    async with Emulator(config, media=backend) as emu:
        yield emu


class StunServer(asyncio.DatagramProtocol):
    """A minimal STUN server on loopback: answers binding requests and counts them."""

    def __init__(self) -> None:
        self.requests = 0
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            request = stun.parse_message(data)
        except ValueError:
            return
        if request.message_class != stun.Class.REQUEST or self._transport is None:
            return
        self.requests += 1
        response = stun.Message(
            stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=request.transaction_id
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        self._transport.sendto(bytes(response), addr)


@contextlib.asynccontextmanager
async def stun_server() -> AsyncIterator[StunServer]:
    transport, server = await asyncio.get_running_loop().create_datagram_endpoint(
        StunServer, local_addr=("127.0.0.1", 0)
    )
    try:
        yield server
    finally:
        transport.close()


class NumberedPattern(PatternVideoSource):
    """The test pattern with frame numbers counted from ``first``."""

    def __init__(self, first: int, *, size: tuple[int, int] = SIZE, fps: float = FPS, **kw: object):
        super().__init__(size[0], size[1], fps=fps, **kw)  # type: ignore[arg-type]
        self.first = first

    async def render(self, index: int, t: float) -> VideoFrame:
        return await super().render(index + self.first, t)


def feed(sink: Sink) -> Callable[[str, MediaStreamTrack], None]:
    """An ``on_track`` that hands every received track to ``sink`` under its role."""
    return lambda role, track: sink.add_track(track, role=role)


@dataclass(frozen=True)
class Reading:
    arrived: float  # time.monotonic() when the frame arrived
    number: int
    timestamp_ms: int


class TrailAnalyser(Analyser):
    """An :class:`Analyser` that also keeps, per role and in arrival order, the pattern codes
    it reads and the pts of every video frame (the report keeps only the set of numbers).

    Codes are read on one worker thread (first in, first out), at most ``max_inflight``
    pictures behind; a picture that finds it full is skipped and counted.
    """

    def __init__(self, *, max_inflight: int = 12, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.max_inflight = max_inflight
        self.pts: dict[str, list[tuple[float, int | None]]] = defaultdict(list)
        self.skipped = 0
        self._jobs: dict[str, list[tuple[float, concurrent.futures.Future[list[Code]]]]] = (
            defaultdict(list)
        )
        self._inflight: deque[concurrent.futures.Future[list[Code]]] = deque()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="trail")

    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> None:
        super().on_frame(role, kind, frame)
        if not isinstance(frame, VideoFrame):
            return
        arrived = time.monotonic()
        self.pts[role].append((arrived, frame.pts))
        while self._inflight and self._inflight[0].done():
            self._inflight.popleft()
        if len(self._inflight) >= self.max_inflight:
            self.skipped += 1
            return
        job = self._pool.submit(find_codes, luma_plane(frame))
        self._inflight.append(job)
        self._jobs[role].append((arrived, job))

    def trail(self, role: str = "main") -> list[Reading]:
        """Codes read so far, in arrival order (pictures still being read are left out)."""
        out: list[Reading] = []
        for arrived, job in self._jobs[role]:
            if not job.done():
                break
            out.extend(Reading(arrived, c.number, c.timestamp_ms) for c in job.result())
        return out

    def numbers(self, role: str = "main") -> list[int]:
        return [r.number for r in self.trail(role)]

    async def finalise(self) -> None:
        await super().finalise()
        await asyncio.to_thread(self._pool.shutdown, wait=True)


def coverage(numbers: Iterable[int]) -> tuple[int, int, float]:
    """(distinct numbers, span lowest..highest, distinct / span)."""
    distinct = set(numbers)
    if not distinct:
        return 0, 0, 0.0
    span = max(distinct) - min(distinct) + 1
    return len(distinct), span, len(distinct) / span


def strictly_increasing(values: list[int]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


def longest_gap(times: list[float]) -> float:
    """The longest interval between consecutive times (0 for fewer than two)."""
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


async def wait_until(
    predicate: Callable[[], bool], within: float = 30.0, what: str = "condition"
) -> float:
    """Poll until ``predicate`` holds; returns how long it took. Generous for a loaded box."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def call_requests(emu: Emulator, participant_uuid: str) -> list[Exchange]:
    """The POSTs our media calls made (``calls``, ``new_candidate``, ``ack``...), in order."""
    marker = f"/participants/{participant_uuid}/calls"
    return [x for x in emu.traffic if marker in x.path and x.method == "POST"]


def endpoint_tail(exchange: Exchange) -> str:
    return (exchange.endpoint or "").rsplit(".", 1)[-1]


def make_clip(
    path: Path,
    *,
    seconds: float,
    first: int,
    tone: ToneSpec,
    size: tuple[int, int] = SIZE,
    fps: int = 15,
) -> Path:
    """A Matroska clip (VP8 + Opus): the numbered pattern from ``first`` and the marker tone."""
    renderer = PatternRenderer(*size)
    frames = round(seconds * fps)
    with av.open(str(path), "w") as out:
        vstream = out.add_stream("libvpx", rate=fps)
        vstream.width, vstream.height = size
        vstream.pix_fmt = "yuv420p"
        vstream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        vstream.bit_rate = 600_000
        astream = out.add_stream("libopus", rate=48000)
        astream.layout = "stereo"
        for i in range(frames):
            picture = VideoFrame.from_ndarray(renderer.render(first + i, i), format="yuv420p")
            picture.pts = i
            picture.time_base = fractions.Fraction(1, fps)
            for packet in vstream.encode(picture):
                out.mux(packet)
        for packet in vstream.encode(None):
            out.mux(packet)
        samples = tone_samples(tone, 0, round(seconds * 48000), epoch_ms=0)
        for i in range(0, samples.size - 959, 960):
            chunk = np.repeat(samples[i : i + 960], 2)[None, :]
            sound = AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
            sound.sample_rate = 48000
            sound.pts = i
            for packet in astream.encode(sound):
                out.mux(packet)
        for packet in astream.encode(None):
            out.mux(packet)
    return path
