"""Cost of a pexbot media call against the emulator's aiortc backend, both in this process.

For each video codec: a MediaCall sends moving video (and a tone) to the emulator; the emulator
either loops it back (service_type test_call: it decodes, re-encodes, the bot decodes) or sends
its waiting card (conference, alone). Prints one JSON object per case: set-up times, time to
the first received video frame, frames received, and CPU (core-seconds per second of wall time,
threads included) over the measuring window.

    /tmp/venv/bin/python benchmarks/call_media.py --seconds 10 --size 640x360 --fps 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import time
import uuid

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.backend import CallContext


class MovingVideo(MediaStreamTrack):
    kind = "video"

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__()
        self.width, self.height, self.interval = width, height, 1.0 / fps
        self.count = 0
        self.start: float | None = None
        ys, xs = np.mgrid[0:height, 0:width]
        self.base = ((xs + ys) % 256).astype(np.uint8)

    async def recv(self) -> VideoFrame:
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.count * self.interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        shift = (self.count * 4) % 256
        y = (self.base + shift).astype(np.uint8)
        uv = np.full((self.height // 2, self.width), 128, dtype=np.uint8)
        frame = VideoFrame.from_ndarray(np.vstack([y, uv]), format="yuv420p")
        frame.pts = int(self.count * self.interval * 90000)
        frame.time_base = fractions.Fraction(1, 90000)
        self.count += 1
        return frame


class Tone(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.samples = 0
        self.start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.samples / 48000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (np.arange(960) + self.samples) / 48000
        pcm = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, 48000)
        self.samples += 960
        return frame


class Direct:
    """CallSignalling straight into the backend."""

    def __init__(self, backend: AiortcMediaBackend, service_type: str) -> None:
        self.backend = backend
        self.service_type = service_type

    async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult:
        call_uuid = str(uuid.uuid4())
        ctx = CallContext(
            "bench", "bench", "p", "bench", call_uuid, "video", None, self.service_type, "bench"
        )
        return wire.CallsResult(
            call_uuid=call_uuid, sdp=await self.backend.open_call(ctx, body.sdp)
        )

    async def new_candidate(self, call_uuid: str, body: wire.NewCandidateBody) -> None:
        await self.backend.add_remote_candidate(call_uuid, body.candidate, body.mid)

    async def ack(self, call_uuid: str, body: wire.AckBody) -> None:
        await self.backend.ack(call_uuid)

    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str:
        return await self.backend.update_call(call_uuid, body.sdp)

    async def disconnect_call(self, call_uuid: str) -> None:
        await self.backend.close_call(call_uuid)

    async def call_dtmf(self, call_uuid: str, digits: str) -> None:
        pass

    async def take_floor(self) -> None:
        pass

    async def release_floor(self) -> None:
        pass


async def run_case(
    codec: str, service_type: str, size: tuple[int, int], fps: float, seconds: float
) -> dict[str, object]:
    backend = AiortcMediaBackend(card_size=size, fps=fps)
    received = {"video": 0, "audio": 0}
    first: dict[str, float] = {}
    tasks: list[asyncio.Task[None]] = []
    t0 = time.monotonic()

    async def consume(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                received[track.kind] += 1
                first.setdefault(track.kind, time.monotonic() - t0)

    def on_track(role: str, track: MediaStreamTrack) -> None:
        if role == "main":
            tasks.append(asyncio.get_running_loop().create_task(consume(track)))

    call = MediaCall(
        Direct(backend, service_type),
        CallOptions(video_codec=codec),  # type: ignore[arg-type]
        audio=Tone(),
        video=MovingVideo(*size, fps),
        on_track=on_track,
    )
    try:
        await call.start()
        await asyncio.sleep(2.0)  # let bitrates settle before measuring
        before = dict(received)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    finally:
        await call.disconnect()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await backend.aclose()
    return {
        "codec": codec,
        "service_type": service_type,
        "size": f"{size[0]}x{size[1]}",
        "fps": fps,
        "connected_s": round(call.timings.dtls_connected or -1, 3),
        "first_video_frame_s": round(first.get("video", -1), 3),
        "first_audio_frame_s": round(first.get("audio", -1), 3),
        "video_fps_received": round((received["video"] - before["video"]) / wall, 1),
        "cpu_cores": round(cpu / wall, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--codecs", default="vp8,h264")
    parser.add_argument("--services", default="conference,test_call")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    for service_type in args.services.split(","):
        for codec in args.codecs.split(","):
            result = await run_case(codec, service_type, (width, height), args.fps, args.seconds)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
