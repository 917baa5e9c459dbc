"""Bots per core: what one load process spends per A/V bot, with media encoded once.

``pexbot emulator --media forward --port 0`` runs in another process (the node's work is not
ours to count); this process is the load process: a :class:`pexbot.jobs.load.LoadJob` of N
default bots (Opus + the numbered pattern, 640x360 VP8 at 15 fps by default, encoded once and
shared, received undecoded and counted). For each N the bots ramp up, the job waits until every
bot has media and ``--settle`` more seconds, then measures this process's CPU (user+sys, all
threads: ``time.process_time``) and RSS over ``--hold`` seconds, with every bot's media healthy
(no bot failed, every bot's last frame fresh). Prints JSON: per N, CPU % of a core per bot,
RSS per bot (above the process before any bot), bots per core, and the media figures.

    .venv/bin/python benchmarks/bots_per_core.py --counts 1,10,50,100,200
    .venv/bin/python benchmarks/bots_per_core.py --media compose --counts 1,10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

from pexbot.jobs.demo import TEST_CALL_ALIAS, demo_config
from pexbot.jobs.event_loop import LOOPS, loop_factory
from pexbot.jobs.load import LoadJob, LoadOptions
from pexbot.jobs.stats import process_usage
from pexbot.jobs.target import JoinTarget

BENCH_ALIAS = "bench"  # any alias is a room of its own (the emulator's default VMR)


@contextlib.asynccontextmanager
async def emulator_process(media: str, loop: str = "auto") -> AsyncIterator[str]:
    """``pexbot emulator --port 0 --media MEDIA`` with the demo configuration; its URL."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(demo_config().model_dump_json(exclude_defaults=True))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pexbot", "emulator", "--port", "0", "--config", f.name,
        "--media", media, "--loop", loop, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator printed {url!r}, not its URL (--media {media}?)")
        yield url
    finally:
        proc.terminate()
        await proc.wait()
        os.unlink(f.name)


def healthy(job: LoadJob, max_age: float) -> int:
    """Bots with media, not failed, whose video (or audio) arrived within ``max_age`` s."""
    good = 0
    for record in job.records:
        if record.failure is not None or record.media_s is None or not record.health:
            continue
        entry = record.health.get("video") or record.health.get("audio") or {}
        age = entry.get("last_frame_age_s")
        if age is not None and age <= max_age:
            good += 1
    return good


def video_frames(job: LoadJob) -> dict[int, int]:
    """Video frames each bot has received so far."""
    return {r.index: int((r.health or {}).get("video", {}).get("frames", 0)) for r in job.records}


async def measure(url: str, bots: int, args: argparse.Namespace) -> dict[str, Any]:
    options = LoadOptions(
        bots=bots,
        ramp=args.ramp,
        duration=None,
        media="video",
        width=args.width,
        height=args.height,
        fps=args.fps,
        codec=args.codec,
        verify_every=args.verify_every,
    )
    gc.collect()
    base = process_usage()
    # A room with no built-in participants (the demo's send nothing in forward mode), and for
    # a lone bot the node's test call, which sends the bot its own media back.
    alias = TEST_CALL_ALIAS if bots == 1 else BENCH_ALIAS
    job = LoadJob(JoinTarget(url, alias), options, progress_every=1.0)
    stop = asyncio.Event()
    run = asyncio.get_running_loop().create_task(job.run(stop))
    error = None
    try:
        deadline = time.monotonic() + bots / args.ramp + 60
        while job.counts()["media_flowing"] < bots or healthy(job, 2.0) < bots:
            if time.monotonic() > deadline or run.done() or job.counts()["failed"]:
                error = f"not all healthy before the hold: {job.counts()}"
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(args.settle)
        before, frames_before = process_usage(), video_frames(job)
        await asyncio.sleep(args.hold)
        after, frames_after = process_usage(), video_frames(job)
        # healthy over the hold: fresh media, and at least 85 % of the frame rate sent (the
        # counts are sampled once a second)
        rates = [
            (frames_after.get(bot, 0) - frames_before.get(bot, 0)) / (after.wall - before.wall)
            for bot in frames_after
        ]
        slow = sum(1 for rate in rates if rate < 0.85 * args.fps)
        good = healthy(job, 2.0) - slow
        failed = job.counts()["failed"]
    finally:
        stop.set()
        summary = await run
    cores = after.cpu_share_since(before)
    rss_per_bot = (after.rss_bytes - base.rss_bytes) / bots / 2**20
    return {
        "bots": bots,
        "alias": alias,
        "loop": summary.get("loop"),
        "all_healthy": error is None and good >= bots and failed == 0,
        "error": error,
        "healthy": good,
        "hold_video_fps_min": round(min(rates), 1) if rates else None,
        "hold_video_fps_p50": round(sorted(rates)[len(rates) // 2], 1) if rates else None,
        "failed": failed,
        "cpu_pct_of_core_per_bot": round(100 * cores / bots, 2),
        "process_cores": round(cores, 3),
        "bots_per_core": round(bots / cores, 1) if cores > 0 else None,
        "rss_mb": round(after.rss_bytes / 2**20, 1),
        "rss_mb_per_bot": round(rss_per_bot, 2),
        "video_fps_p50": (summary.get("video_fps") or {}).get("p50"),
        "video_lost": summary.get("video_lost"),
        "video_nacks": summary.get("video_nacks"),
        "video_verified": summary.get("video_verified"),
        "video_unreadable": summary.get("video_unreadable"),
        "shared": summary.get("shared"),
    }


def marginal(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for a, b in itertools.pairwise(results):
        extra = b["bots"] - a["bots"]
        if extra <= 0:
            continue
        cores = b["process_cores"] - a["process_cores"]
        rss = b["rss_mb"] - a["rss_mb"]
        out.append(
            {
                "from_to": [a["bots"], b["bots"]],
                "cpu_pct_of_core_per_bot": round(100 * cores / extra, 2),
                "bots_per_core": round(extra / cores, 1) if cores > 0 else None,
                "rss_mb_per_bot": round(rss / extra, 2),
            }
        )
    return out


async def main(args: argparse.Namespace) -> None:
    counts = [int(c) for c in args.counts.split(",")]
    results = []
    async with emulator_process(args.media, args.loop) as url:
        base = process_usage()
        for bots in counts:
            results.append(await measure(url, bots, args))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
            await asyncio.sleep(2.0)  # the node forgets the last run's participants
    print(
        json.dumps(
            {
                "benchmark": "bots_per_core",
                "emulator_media": args.media,
                "codec": args.codec,
                "video": f"{args.width}x{args.height}@{args.fps:g}",
                "hold_s": args.hold,
                "rss_mb_before_bots": round(base.rss_bytes / 2**20, 1),
                "runs": results,
                # what one more bot costs between two counts: the fixed cost (the shared
                # encoders, the process) falls out, so this is the figure to compare
                "marginal": marginal(results),
            },
            indent=2,
        )
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1,10,50,100,200")
    parser.add_argument("--media", default="forward", help="the emulator's --media (forward)")
    parser.add_argument("--codec", choices=("vp8", "h264"), default="vp8")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--ramp", type=float, default=10.0, help="bots started per second")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--hold", type=float, default=15.0)
    parser.add_argument("--verify-every", type=int, default=150)
    parser.add_argument("--loop", choices=LOOPS, default="auto", help="event loop (both ends)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    with asyncio.Runner(loop_factory=loop_factory(arguments.loop)) as runner:
        runner.run(main(arguments))
