"""Kit for the presentation tests: a short clip made with av, presenters whose frame numbers
start where asked, reading the codes of a recorded file, and (from the integration kit) the
emulator with real media, the trail analyser and ``wait_until``."""

from __future__ import annotations

import contextlib
import fractions
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

# The integration kit (emulator with aiortc media, TrailAnalyser, ...) is shared, not copied.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "emulator"))

from intkit import (
    FPS,
    SIZE,
    TrailAnalyser,
    coverage,
    feed,
    media_emulator,
    strictly_increasing,
    wait_until,
)
from router_kit import slides_leg

from media import ContentCaps, PresentationPlaylist, VideoItem
from media.analyser import luma_plane
from media.pattern import find_codes
from pexbot import MediaCall, Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.rtc.sdp import Sdp

__all__ = [
    "FPS",
    "SIZE",
    "DirectPair",
    "FileCodes",
    "TrailAnalyser",
    "coverage",
    "direct_emulator",
    "direct_pair",
    "feed",
    "floor_wire",
    "make_clip",
    "media_emulator",
    "playlist_from",
    "read_codes",
    "slides_leg",
    "strictly_increasing",
    "wait_until",
]

#: presentation content caps for the tests: small frames, 10 fps
CAPS = ContentCaps(max_width=SIZE[0], max_height=SIZE[1], video_fps=10.0, max_fps=10.0)


@contextlib.asynccontextmanager
async def direct_emulator() -> AsyncIterator[Emulator]:
    """An emulator with one direct-media conference, ``meet`` (its media backend unused)."""
    backend = AiortcMediaBackend(card_size=SIZE, fps=FPS)
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"], direct_media=True)])
    async with Emulator(config, media=backend) as emu:
        yield emu


@dataclass
class DirectPair:
    """Alice and bob in a direct-media call with each other (alice joined first)."""

    emu: Emulator
    alice: Session
    bob: Session
    call_a: MediaCall
    call_b: MediaCall


@contextlib.asynccontextmanager
async def direct_pair(
    at_alice: TrailAnalyser | None = None, at_bob: TrailAnalyser | None = None
) -> AsyncIterator[DirectPair]:
    """Both connected peer to peer (VP8); what each receives goes to its analyser, which is
    closed, after the calls, on the way out."""
    async with (
        direct_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        call_a = await alice.call(video_codec="vp8", on_track=feed(at_alice) if at_alice else None)
        call_b = await bob.call(video_codec="vp8", on_track=feed(at_bob) if at_bob else None)
        try:
            await wait_until(
                lambda: call_a.state == "connected" and call_b.state == "connected",
                what="the direct-media peer connection",
            )
            yield DirectPair(emu, alice, bob, call_a, call_b)
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            for analyser in (at_alice, at_bob):
                if analyser is not None:
                    await analyser.close()


def make_clip(
    path: Path, *, seconds: float = 2.0, fps: int = 10, size: tuple[int, int] = SIZE
) -> Path:
    """A VP8 clip of a moving gradient (no codes of its own: the presenter stamps them)."""
    width, height = size
    frames = round(seconds * fps)
    xs = np.arange(width, dtype=np.int32)[None, :]
    ys = np.arange(height, dtype=np.int32)[:, None]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        for i in range(frames):
            rgb = np.zeros((height, width, 3), np.uint8)
            rgb[..., 0] = ((xs + i * 8) % 256).astype(np.uint8)
            rgb[..., 1] = ((ys * 2 + i * 4) % 256).astype(np.uint8)
            rgb[..., 2] = 90
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            picture.pts = i
            picture.time_base = fractions.Fraction(1, fps)
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def playlist_from(clip: Path, *, first: int = 0) -> PresentationPlaylist:
    """The clip, looping, with codes stamped from frame number ``first``."""
    playlist = PresentationPlaylist([VideoItem(clip)], loop=True, caps=CAPS, stamp_codes=True)
    playlist.track.frames_out = first  # the stamped number is the count of frames sent
    return playlist


@dataclass
class FileCodes:
    """What a recorded video file holds: per decoded frame, its time and the codes read."""

    frames: int = 0
    decode_errors: int = 0
    first_time: float | None = None
    last_time: float | None = None
    #: (frame time in the file, frame number, capture timestamp ms) of frames with a code
    coded: list[tuple[float, int, int]] = field(default_factory=list)

    @property
    def numbers(self) -> list[int]:
        return [n for _, n, _ in self.coded]

    @property
    def coded_span(self) -> float:
        """Seconds from the first to the last frame with a code, by file time."""
        return self.coded[-1][0] - self.coded[0][0] if self.coded else 0.0

    @property
    def captured_span(self) -> float:
        """Seconds between those frames' capture times (their codes)."""
        return (self.coded[-1][2] - self.coded[0][2]) / 1000 if self.coded else 0.0


def read_codes(path: Path) -> FileCodes:
    """Decode every frame of the file's video and read its codes (blocking: use a thread)."""
    out = FileCodes()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                out.decode_errors += 1
                continue
            for frame in frames:
                assert isinstance(frame, av.VideoFrame) and frame.time is not None
                t = float(frame.time)
                out.frames += 1
                out.first_time = t if out.first_time is None else out.first_time
                out.last_time = t
                for code in find_codes(luma_plane(frame)):
                    out.coded.append((t, code.number, code.timestamp_ms))
    return out


def floor_wire(emu: Emulator, participant_uuid: str) -> list[tuple[str, str | None]]:
    """(endpoint, slides direction of an update) of the floor and renegotiation requests."""
    out: list[tuple[str, str | None]] = []
    for x in emu.traffic:
        tail = (x.endpoint or "").rsplit(".", 1)[-1]
        if f"/participants/{participant_uuid}/" not in x.path or x.method != "POST":
            continue
        if tail in ("take_floor", "release_floor", "ack"):
            out.append((tail, None))
        elif tail == "update":
            out.append((tail, Sdp.parse(x.request_json["sdp"]).media[2].direction))
    return out
