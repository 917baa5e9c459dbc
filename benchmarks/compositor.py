"""Cost of the emulator's transcoded conference (the default media: layouts + audio mix).

The emulator runs as ``pexbot emulator --media compose`` in a child process, so its CPU is
measured on its own (``/proc/<pid>/stat``: all its threads, aiortc's codec threads and the
compositor's worker included). N participants join from this process over real HTTP, each
sending a moving test pattern and a tone, and each receiving its composed picture and mix.
Prints one JSON object per participant count: the emulator's CPU (cores) and the frame rate
each participant receives, under 1:7 and under 2x2; then one object with the start-up time of
the emulator per media choice and the cost of the pure parts (painting one picture, mixing one
20 ms period), measured in this process.

    /tmp/venv/bin/python benchmarks/compositor.py --participants 3 6 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from media.synthetic import PatternRenderer, PatternVideoSource, ToneAudioSource
from media.tone import ToneSpec
from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator.media.audio_mixer import PERIOD_VALUES, AudioMixer
from pexbot.emulator.media.canvas import Painter, Tile
from pexbot.emulator.media.layouts import tile_rects
from pexbot.session.session import Session

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


@contextlib.asynccontextmanager
async def emulator(media: str, size: str, fps: float) -> AsyncIterator[tuple[int, str, float]]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "pexbot", "emulator", "--port", "0", "--media", media),
        *("--video-size", size, "--fps", str(fps)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
    try:
        yield proc.pid, url, time.monotonic() - started
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


class Counter:
    def __init__(self) -> None:
        self.video = 0
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, role: str, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.video += 1

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def measure(pid: int, counters: list[Counter], seconds: float) -> tuple[float, list[float]]:
    before = [c.video for c in counters]
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - wall0
    cpu = (cpu_seconds(pid) - cpu0) / wall
    return round(cpu, 3), [
        round((c.video - b) / wall, 1) for c, b in zip(counters, before, strict=True)
    ]


async def conference(n: int, args: argparse.Namespace) -> dict[str, object]:
    width, height = (int(v) for v in args.input_size.split("x"))
    async with (
        emulator("compose", args.size, args.fps) as (pid, url, _),
        contextlib.AsyncExitStack() as stack,
    ):
        sessions = [
            await stack.enter_async_context(Session(url, "bench", display_name=f"p{i}"))
            for i in range(n)
        ]
        counters = [Counter() for _ in range(n)]
        calls = []
        for i, (session, counter) in enumerate(zip(sessions, counters, strict=True)):
            call = MediaCall(
                session.call_signalling(),
                CallOptions.from_token(session.info, video_codec=args.codec),
                audio=ToneAudioSource(
                    ToneSpec(frequency=400 + 100 * i, marker_frequency=450 + 100 * i)
                ),
                video=PatternVideoSource(width, height, fps=args.fps),
                on_track=counter,
            )
            await call.start()
            calls.append(call)
        try:
            await asyncio.sleep(args.warmup)
            cpu_1x7, fps_1x7 = await measure(pid, counters, args.seconds)
            await sessions[0].conference.transform_layout(wire.Transforms(layout="2x2"))
            await asyncio.sleep(1.0)
            cpu_2x2, fps_2x2 = await measure(pid, counters, args.seconds)
        finally:
            for call in calls:
                await call.disconnect()
            for counter in counters:
                await counter.close()
    return {
        "participants": n,
        "composed": f"{args.size}@{args.fps:g}",
        "inputs": f"{args.input_size}@{args.fps:g}",
        "codec": args.codec,
        "emulator_cpu_cores_1x7": cpu_1x7,
        "received_fps_1x7": fps_1x7,
        "emulator_cpu_cores_2x2": cpu_2x2,
        "received_fps_2x2": fps_2x2,
    }


def pure_costs(size: str) -> dict[str, float]:
    width, height = (int(v) for v in size.split("x"))
    sources = [
        VideoFrame.from_ndarray(PatternRenderer(640, 360).render(i, 0), format="yuv420p")
        for i in range(7)
    ]
    costs: dict[str, float] = {}
    for layout in ("1:0", "2x2", "1:7"):
        painter = Painter()
        rects = tile_rects(layout, width, height)
        rounds = 60
        started = time.perf_counter()
        for k in range(rounds):
            # every source has a new frame each round: no cache hits (the worst case)
            tiles = [
                Tile(r, f, i + 1, k) for i, (r, f) in enumerate(zip(rects, sources, strict=False))
            ]
            painter.paint(width, height, tiles)
        costs[f"paint_ms_{layout}"] = round((time.perf_counter() - started) / rounds * 1000, 3)
    mixer = AudioMixer(epoch=0.0)
    chunk = (np.random.default_rng(1).normal(0, 3000, PERIOD_VALUES)).astype(np.int16)
    periods = 2000
    started = time.perf_counter()
    for k in range(periods):
        for key in range(6):
            mixer.push(str(key), chunk)
        for key in range(6):
            mixer.mix(k, exclude=str(key))
    costs["mix_us_per_period_6_listeners"] = round(
        (time.perf_counter() - started) / periods * 1e6, 1
    )
    return costs


async def startup(args: argparse.Namespace) -> dict[str, float]:
    times: dict[str, float] = {}
    for media in ("none", "compose"):
        async with emulator(media, args.size, args.fps) as (_, _, seconds):
            times[f"start_to_url_s_{media}"] = round(seconds, 3)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, nargs="+", default=[3, 6])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--size", default="640x360", help="composed picture")
    parser.add_argument("--input-size", default="640x360", help="what each participant sends")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--codec", default="vp8")
    args = parser.parse_args()
    for n in args.participants:
        print(json.dumps(await conference(n, args)), flush=True)
    print(json.dumps({**await startup(args), **pure_costs(args.size)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
