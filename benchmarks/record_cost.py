"""Recording cost: CPU of a ``pexbot record`` process per recorded 720p30 + audio stream,
passthrough (the default) and ``--transcode`` side by side in one run.

One emulator in forward mode (``pexbot emulator --media forward``, its own process) hosts a
conference with no built-in participants. A sender (``pexbot load --bots 1``, its own process)
joins first and sends Opus + the numbered pattern as 1280x720 VP8 at 30 fps, so the forwarder
hands exactly that stream to everyone who joins after it. Then two recorders join at the same
time, one passthrough and one transcoding, each in its own process. After ``--settle`` seconds
both are sampled over the same ``--seconds`` window: user+sys CPU from ``/proc/<pid>/stat``
(all threads, the whole process: signalling, ICE, SRTP, repair and the file) and RSS. With
uvloop installed a third recorder runs beside them: passthrough on ``--loop uvloop``. The files
are then opened with av to check what was recorded (frames, size, duration).

    .venv/bin/python benchmarks/record_cost.py [--seconds 20] [--settle 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av

from pexbot.emulator import ConferenceConfig, EmulatorConfig

ALIAS = "bench"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@contextlib.asynccontextmanager
async def emulator(workdir: Path) -> AsyncIterator[str]:
    config = workdir / "emulator.json"
    config.write_text(
        EmulatorConfig(
            conferences=[ConferenceConfig(aliases=[ALIAS], name="bench")]
        ).model_dump_json(exclude_defaults=True)
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pexbot", "emulator", "--port", "0", "--config", str(config),
        "--media", "forward", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator printed {url!r}, not its URL")
        yield url
    finally:
        await stop(proc)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pexbot", *args,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def inspect(path: Path) -> dict[str, Any]:
    """What the file holds: codec, size, frames that decode, seconds of video."""
    out: dict[str, Any] = {"file": path.name, "bytes": path.stat().st_size}
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        out["video_codec"] = video.codec_context.name
        frames, first, last, size = 0, None, None, None
        for frame in container.decode(video):
            frames += 1
            first = frame.time if first is None else first
            last = frame.time
            size = (frame.width, frame.height)
        out["video_frames_decoded"] = frames
        out["video_size"] = size
        out["video_seconds"] = round((last or 0.0) - (first or 0.0), 2)
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with emulator(workdir) as url:
            node = ["--node", url, "--alias", ALIAS]
            sender = await start(
                "load", *node, "--bots", "1", "--resolution", "720p", "--fps", "30",
                "--codec", "vp8", "--verify-every", "0", "--name", "sender",
            )  # fmt: skip
            try:
                await asyncio.sleep(args.sender_head_start)
                total = args.settle + args.seconds + 2
                cases: dict[str, list[str]] = {"passthrough": [], "transcode": ["--transcode"]}
                if importlib.util.find_spec("uvloop") is not None:
                    cases["passthrough_uvloop"] = ["--loop", "uvloop"]  # pexbot[load] has it
                procs = {
                    name: await start(
                        "record",
                        *node,
                        "--name",
                        f"rec-{name}",
                        "--out",
                        str(workdir / name),
                        "--duration",
                        str(total),
                        *extra,
                    )
                    for name, extra in cases.items()
                }
                await asyncio.sleep(args.settle)
                before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
                await asyncio.sleep(args.seconds)
                after = {name: cpu_seconds(p.pid) for name, p in procs.items()}
                rss = {name: rss_mb(p.pid) for name, p in procs.items()}
                for proc in procs.values():
                    await asyncio.wait_for(proc.wait(), total + 30)
            finally:
                await stop(sender)
            result: dict[str, Any] = {}
            for name in cases:
                cores = (after[name] - before[name]) / args.seconds
                files = sorted((workdir / name).glob("main.*"))
                result[name] = {
                    "cores_per_stream": round(cores, 4),
                    "rss_mb": rss[name],
                    "exit_code": procs[name].returncode,
                    "recorded": inspect(files[0]) if files else None,
                }
            pt = result["passthrough"]["cores_per_stream"]
            tc = result["transcode"]["cores_per_stream"]
            result["transcode_over_passthrough"] = round(tc / pt, 1) if pt > 0 else None
            result["stream"] = "1280x720 VP8 @ 30 fps + Opus, forwarded as sent"
            result["window_seconds"] = args.seconds
            result["target_cores_per_stream_passthrough"] = 0.02
            return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds before measuring")
    parser.add_argument("--sender-head-start", type=float, default=4.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
