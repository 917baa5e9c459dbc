"""Real codecs for the source tests: VP8 and Opus round trips, small media files made with av."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.tone import ToneSpec, tone_samples


def vp8_roundtrip(
    pictures: Sequence[np.ndarray],
    *,
    width: int,
    height: int,
    bit_rate: int = 300_000,
    fps: int = 30,
) -> tuple[list[VideoFrame], float]:
    """yuv420p arrays through libvpx at ``bit_rate`` (CBR, realtime) and back; (frames, kbit/s)."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height = width, height
    enc.pix_fmt = "yuv420p"
    enc.bit_rate = bit_rate
    enc.time_base = fractions.Fraction(1, fps)
    enc.framerate = fractions.Fraction(fps)
    enc.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": str(bit_rate),
        "maxrate": str(bit_rate),
        "bufsize": str(bit_rate),
    }
    dec = av.CodecContext.create("libvpx", "r")
    out: list[VideoFrame] = []
    size = 0
    for i, picture in enumerate(pictures):
        frame = VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = i
        for packet in enc.encode(frame):
            size += packet.size
            out.extend(dec.decode(packet))
    for packet in enc.encode(None):
        size += packet.size
        out.extend(dec.decode(packet))
    return out, size * 8 * fps / len(pictures) / 1000


def opus_roundtrip(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """Mono int16 through libopus (48 kHz stereo, 96 kbit/s, voip, as aiortc) and back.

    Returns (decoded stereo samples, codec delay in samples) — the delay is the encoder's
    lookahead that a receiver cannot see, reported so tests can tell it from detector error.
    """
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate = 48000
    enc.layout = "stereo"
    enc.format = "s16"
    enc.bit_rate = 96000
    enc.time_base = fractions.Fraction(1, 48000)
    enc.options = {"application": "voip"}
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate = 48000
    dec.layout = "stereo"
    dec.format = "s16"
    chunks: list[np.ndarray] = []
    delay = 0
    for i in range(0, samples.size - 959, 960):
        frame = AudioFrame.from_ndarray(
            np.repeat(samples[i : i + 960], 2)[None, :], format="s16", layout="stereo"
        )
        frame.sample_rate = 48000
        frame.pts = i
        for packet in enc.encode(frame):
            if not chunks and packet.pts is not None and packet.pts < 0:
                delay = -packet.pts
            for decoded in dec.decode(packet):
                chunks.append(decoded.to_ndarray().reshape(-1, 2))
    return np.concatenate(chunks), delay


def make_media_file(
    path: Path,
    *,
    seconds: float = 1.0,
    fps: int = 30,
    video: bool = True,
    audio: bool = True,
    size: tuple[int, int] = (320, 240),
) -> Path:
    """A webm (VP8 + Opus) whose video frame i is grey level 8*i and audio is the marker tone."""
    with av.open(str(path), "w") as out:
        vstream = astream = None
        if video:
            vstream = out.add_stream("libvpx", rate=fps)
            vstream.width, vstream.height = size
            vstream.pix_fmt = "yuv420p"
        if audio:
            astream = out.add_stream("libopus", rate=48000)
            astream.layout = "stereo"
        if vstream is not None:
            for i in range(round(seconds * fps)):
                level = (i * 8) % 256
                rgb = np.full((size[1], size[0], 3), level, np.uint8)
                frame = VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                frame.time_base = fractions.Fraction(1, fps)
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)
        if astream is not None:
            tone = tone_samples(ToneSpec(), 0, round(seconds * 48000), epoch_ms=0)
            for i in range(0, tone.size, 960):
                chunk = np.repeat(tone[i : i + 960], 2)[None, :]
                sound = AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
                sound.sample_rate = 48000
                sound.pts = i
                for packet in astream.encode(sound):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path


async def pull(
    track: MediaStreamTrack, count: int | None = None, *, limit: float = 20.0
) -> list[Any]:
    """Frames from ``track`` until it ends (or ``count`` frames), within ``limit`` seconds."""
    frames: list[Any] = []

    async def run() -> None:
        while count is None or len(frames) < count:
            try:
                frames.append(await track.recv())
            except MediaStreamError:
                return

    await asyncio.wait_for(run(), limit)
    return frames
