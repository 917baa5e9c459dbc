"""Emulator forward cost: what ``pexbot emulator --media forward`` spends per forwarded participant.

The emulator runs in its own process (``python -m pexbot emulator --media forward --port 0``,
no config: unknown aliases are PIN-less VMRs with no built-in participant, so every bot is
forwarded another bot). This process runs a :class:`pexbot.jobs.load.LoadJob` of N default bots
(Opus + 640x360 VP8 at 15 fps, encoded once and shared, received undecoded). For each N the
bots ramp up, the job waits until every bot has media and ``--settle`` more seconds, then
measures the EMULATOR process's CPU (user+sys of all its threads, from /proc/<pid>/stat) over
``--hold`` seconds, and the packets per second the bots received (= what the emulator
forwarded). Prints JSON: per N, CPU % of a core per forwarded participant, packets/s, CPU µs
per forwarded packet; and, from the emulator's closing log line, which path forwarded
(``rtp``: packets by :mod:`pexbot.rtc.rtp_fast`; ``frames``: aiortc's receivers and senders)
and how many packets took the fast path.

    .venv/bin/python benchmarks/emulator_forward.py --counts 10,30,60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots_per_core import healthy

from pexbot.jobs.load import LoadJob, LoadOptions
from pexbot.jobs.target import JoinTarget

ALIAS = "forward-bench"
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Emulator:
    url: str
    pid: int
    log: Path


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, sys) CPU seconds of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS  # utime, stime (fields 14, 15)


@contextlib.asynccontextmanager
async def forward_emulator() -> AsyncIterator[Emulator]:
    """The forwarding emulator in its own process, its stderr (INFO log) kept in a file."""
    with tempfile.NamedTemporaryFile("w+b", suffix=".log", delete=False) as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pexbot", "--log-level", "INFO", "emulator", "--port", "0",
            "--media", "forward", stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator printed {url!r}, not its URL")
        yield Emulator(url, proc.pid, Path(log.name))
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


def packets_received(job: LoadJob) -> int:
    return sum(
        int((record.health or {}).get(kind, {}).get("packets", 0))
        for record in job.records
        for kind in ("audio", "video")
    )


async def measure(emu: Emulator, bots: int, args: argparse.Namespace) -> dict[str, Any]:
    options = LoadOptions(bots=bots, ramp=args.ramp, duration=None)
    job = LoadJob(JoinTarget(emu.url, f"{ALIAS}-{bots}"), options, progress_every=1.0)
    stop = asyncio.Event()
    run = asyncio.get_running_loop().create_task(job.run(stop))
    try:
        deadline = time.monotonic() + bots / args.ramp + 60
        while job.counts()["media_flowing"] < bots or healthy(job, 2.0) < bots:
            if time.monotonic() > deadline or run.done() or job.counts()["failed"]:
                raise RuntimeError(f"{bots} bots: not all healthy: {job.counts()}")
            await asyncio.sleep(0.5)
        await asyncio.sleep(args.settle)
        wall0, cpu0, packets0 = time.monotonic(), cpu_seconds(emu.pid), packets_received(job)
        await asyncio.sleep(args.hold)
        wall1, cpu1, packets1 = time.monotonic(), cpu_seconds(emu.pid), packets_received(job)
        good = healthy(job, 2.0)
    finally:
        stop.set()
        summary = await run
    wall = wall1 - wall0
    user, system = (cpu1[0] - cpu0[0]) / wall, (cpu1[1] - cpu0[1]) / wall
    cores = user + system
    rate = (packets1 - packets0) / wall
    return {
        "bots": bots,
        "healthy": good,
        "failed": summary.get("failed"),
        "emulator_cores": round(cores, 3),
        "emulator_user_cores": round(user, 3),
        "emulator_sys_cores": round(system, 3),
        "emulator_cpu_pct_of_core_per_participant": round(100 * cores / bots, 2),
        "packets_per_s_forwarded": round(rate),
        "emulator_cpu_us_per_packet": round(1e6 * cores / rate, 1) if rate else None,
        "video_fps_p50": (summary.get("video_fps") or {}).get("p50"),
        "video_lost": summary.get("video_lost"),
        "video_unreadable": summary.get("video_unreadable"),
    }


#: the line ForwardBackend logs when it closes (pexbot.emulator.media.forward)
_CLOSING = re.compile(r"forward backend closed: (\{.*\})")


def forward_stats(log: Path) -> dict[str, Any] | None:
    found = _CLOSING.findall(log.read_text(errors="replace"))
    return json.loads(found[-1]) if found else None


async def main(args: argparse.Namespace) -> None:
    counts = [int(c) for c in args.counts.split(",")]
    results = []
    async with forward_emulator() as emu:
        for bots in counts:
            results.append(await measure(emu, bots, args))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
            await asyncio.sleep(2.0)  # the node forgets the last run's participants
    stats = forward_stats(emu.log)
    emu.log.unlink()
    print(
        json.dumps(
            {
                "benchmark": "emulator_forward",
                "bots_send": "Opus + 640x360@15 VP8 (LoadJob defaults)",
                "hold_s": args.hold,
                "forward_path": (stats or {}).get("path"),
                "emulator_stats": stats,
                "runs": results,
            },
            indent=2,
        )
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="10,30,60")
    parser.add_argument("--ramp", type=float, default=10.0, help="bots started per second")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--hold", type=float, default=15.0)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
