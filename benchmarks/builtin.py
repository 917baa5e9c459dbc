"""Cost of a built-in participant (pexbot.emulator.conference.builtin): pattern + tone at a size.

Two measurements, printed as JSON objects:

1. ``sources``: the built-in's own tracks (moving pattern + 1 kHz tone on one clock), pulled
   in real time in this process for ``--seconds``; CPU in cores (``time.process_time``).
2. ``emulator``: ``pexbot emulator`` in a child process (CPU from ``/proc/<pid>/stat``, all
   threads) with one pexbot in a media call, in a conference without and then with a built-in:
   the difference is what the built-in costs the node (its sources, the compositor reading and
   tiling its picture, mixing its tone, and encoding a picture that moves instead of the waiting
   card). The pexbot sends silence and no video, so the conference has one picture to tile.

    /tmp/venv/bin/python benchmarks/builtin.py --size 640x360 --fps 15 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from media.synthetic import SilenceAudioSource
from pexbot.emulator.conference.builtin import make_sources
from pexbot.emulator.config import BuiltinParticipant
from pexbot.session.session import Session

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def sources(size: tuple[int, int], fps: float, seconds: float) -> dict[str, object]:
    made: dict[str, int] = {"video": 0, "audio": 0}

    def count(kind: str) -> None:
        made[kind] += 1

    tracks = make_sources(BuiltinParticipant(), 9_000_000, size, fps, count)

    async def pull(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    cpu0, wall0 = time.process_time(), time.monotonic()
    tasks = [asyncio.create_task(pull(t)) for t in tracks.values()]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.monotonic() - wall0
    return {
        "measure": "sources",
        "size": f"{size[0]}x{size[1]}@{fps:g}",
        "cpu_cores": round((time.process_time() - cpu0) / wall, 4),
        "video_fps": round(made["video"] / wall, 1),
        "audio_frames_per_s": round(made["audio"] / wall, 1),
    }


@contextlib.asynccontextmanager
async def emulator(
    config: dict[str, object], size: str, fps: float
) -> AsyncIterator[tuple[int, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "emu.json"
        path.write_text(json.dumps(config))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "pexbot", "emulator", "--port", "0", "--config", str(path)),
            *("--video-size", size, "--fps", str(fps)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        try:
            yield proc.pid, url
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)


async def one_bot(with_builtin: bool, args: argparse.Namespace) -> tuple[float, float]:
    """(emulator CPU in cores, video fps the bot received)."""
    conference: dict[str, object] = {"aliases": ["bench"]}
    if with_builtin:
        conference["builtin_participants"] = [{"display_name": "Demo pattern"}]
    received = 0

    def on_track(role: str, track: MediaStreamTrack) -> None:
        async def read() -> None:
            nonlocal received
            with contextlib.suppress(MediaStreamError):
                while True:
                    if isinstance(await track.recv(), VideoFrame):
                        received += 1

        readers.append(asyncio.create_task(read()))

    readers: list[asyncio.Task[None]] = []
    async with (
        emulator({"conferences": [conference]}, args.size, args.fps) as (pid, url),
        Session(url, "bench", display_name="bot") as session,
    ):
        call = await session.call(
            audio=SilenceAudioSource(), on_track=on_track, video_codec=args.codec
        )
        try:
            await asyncio.sleep(args.warmup)
            frames0, cpu0, wall0 = received, cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(args.seconds)
            wall = time.monotonic() - wall0
            cpu = (cpu_seconds(pid) - cpu0) / wall
            fps = (received - frames0) / wall
        finally:
            await call.disconnect()
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    return round(cpu, 3), round(fps, 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--codec", default="vp8")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    print(json.dumps(await sources((width, height), args.fps, args.seconds)), flush=True)
    alone_cpu, alone_fps = await one_bot(False, args)
    with_cpu, with_fps = await one_bot(True, args)
    print(
        json.dumps(
            {
                "measure": "emulator",
                "size": f"{args.size}@{args.fps:g}",
                "codec": args.codec,
                "cpu_cores_bot_alone": alone_cpu,
                "cpu_cores_bot_with_builtin": with_cpu,
                "builtin_costs_cores": round(with_cpu - alone_cpu, 3),
                "bot_received_fps_alone": alone_fps,
                "bot_received_fps_with_builtin": with_fps,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
