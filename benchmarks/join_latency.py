"""Join latency: ``Session`` entered to the first remote video frame decoded, on loopback.

Each join is a fresh :class:`pexbot.Session` (its own HTTP connection pool, as a new bot has)
into the emulator's ``demo`` conference, where the built-in participant sends a moving pattern
the node composes for us; the bot sends the probe's pattern and tone. The clock starts when
``Session.open`` is called and stops when ``recv()`` on the main video track returns its first
frame. Joins are sequential; each leaves (``calls/<uuid>/disconnect``, ``release_token``) before
the next one starts.

The emulator runs in a separate process by default (``pexbot emulator --port 0``: the realistic
case, the node's work is not on our event loop), or in this one with ``--in-process``.

Per step, milliseconds from ``open()``, each the median over the joins (the timeline of a typical
join): ``request_token`` sent and answered (HTTP trace), the event stream's headers, the first
roster sync (``open()`` returned), ``/calls`` sent and answered, answer applied (the call's
timings), ``new_candidate`` s and ``ack``, ICE connected, DTLS connected (peer connection state
changes), the first RTP packet on the video line, the first decoded frame.

``--alias test_call`` joins the test call instead (the node loops our own pattern back: what
``pexbot probe`` measures). ``--baseline`` turns the bot's side of :mod:`pexbot.rtc.prompt_start`
off (aiortc's own jitter buffer and ICE pacing) to show what it saves.

    .venv/bin/python benchmarks/join_latency.py --joins 30
    .venv/bin/python benchmarks/join_latency.py --joins 30 --in-process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from media import MediaClock, PatternVideoSource, ToneAudioSource
from pexbot.call.media_call import MediaCall
from pexbot.jobs.demo import DEMO_ALIAS, demo_config, embedded_emulator
from pexbot.rtc import prompt_start
from pexbot.session.session import Session

#: the HTTP requests timed, by the end of their path
REQUESTS = ("request_token", "events", "calls", "new_candidate", "ack")


class Timeline:
    """Milliseconds from ``t0`` to each step of one join (first time only)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.steps: dict[str, float] = {}
        self.done = False  # the first frame arrived: leaving is not part of the timeline

    def mark(self, step: str) -> None:
        if not self.done:
            self.steps.setdefault(step, round((time.monotonic() - self.t0) * 1000, 2))


def traced_http(timeline: Timeline) -> aiohttp.ClientSession:
    """An HTTP session that marks when each timed request was sent and answered (headers)."""

    def name(url: Any) -> str | None:
        last = str(url.path).rstrip("/").rsplit("/", 1)[-1]
        return last if last in REQUESTS else None

    async def start(_s: Any, _c: Any, params: aiohttp.TraceRequestStartParams) -> None:
        what = name(params.url)
        if what is not None:
            timeline.mark(f"{what}_sent")

    async def end(_s: Any, _c: Any, params: aiohttp.TraceRequestEndParams) -> None:
        what = name(params.url)
        if what is not None:
            timeline.mark(f"{what}_answered")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    return aiohttp.ClientSession(trace_configs=[trace])


async def watch_call(session: Session, timeline: Timeline) -> None:
    """Mark the peer connection's steps: found by polling (the call is built inside
    ``session.call``), then followed through its state-change events."""
    call: MediaCall | None = None
    while call is None or call.current_peer is None:
        await asyncio.sleep(0.001)
        call = session.media_call
    pc = call.current_peer.pc

    @pc.on("iceconnectionstatechange")  # type: ignore[misc]
    def _ice() -> None:
        timeline.mark(f"ice_{pc.iceConnectionState}")

    @pc.on("connectionstatechange")  # type: ignore[misc]
    def _dtls() -> None:
        timeline.mark(f"pc_{pc.connectionState}")

    counter = call.media.counters["video"]
    counted = counter.packet

    def packet(packet: RtpPacket, arrival_ms: int) -> None:
        timeline.mark("first_video_rtp")
        counted(packet, arrival_ms)

    counter.packet = packet  # type: ignore[method-assign]


async def one_join(node: str, alias: str) -> dict[str, float]:
    clock = MediaClock()
    video = PatternVideoSource(320, 180, fps=15.0, clock=clock)
    audio = ToneAudioSource(clock=clock)
    first_frame = asyncio.get_running_loop().create_future()
    readers: list[asyncio.Task[None]] = []

    async def read(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video" and not first_frame.done():
                    first_frame.set_result(None)

    def on_track(role: str, track: MediaStreamTrack) -> None:
        if role == "main":
            readers.append(asyncio.get_running_loop().create_task(read(track)))

    timeline = Timeline()
    http = traced_http(timeline)
    session = Session(node, alias, display_name="join bench", http=http)
    watcher: asyncio.Task[None] | None = None
    try:
        timeline.t0 = time.monotonic()
        await session.open()
        timeline.mark("synced")
        watcher = asyncio.get_running_loop().create_task(watch_call(session, timeline))
        call = await session.call(audio=audio, video=video, on_track=on_track)
        timeline.mark("call_returned")
        t = call.timings
        started = timeline.steps["synced"]
        for step in ("posted", "answered", "acked"):
            value = getattr(t, step)
            if value is not None:
                timeline.steps[f"call_{step}"] = round(started + value * 1000, 2)
        async with asyncio.timeout(10):
            await first_frame
        timeline.mark("first_frame")
        timeline.done = True
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait({watcher})
        await session.close()
        for task in readers:
            task.cancel()
            await asyncio.wait({task})
        video.stop()
        audio.stop()
        await http.close()
    return timeline.steps


@contextlib.asynccontextmanager
async def emulator_process(size: str, fps: float) -> AsyncIterator[str]:
    """``pexbot emulator --port 0`` with the demo configuration; yields its URL."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(demo_config().model_dump_json(exclude_defaults=True))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pexbot",
        "emulator",
        "--port",
        "0",
        "--config",
        f.name,
        "--video-size",
        size,
        "--fps",
        str(fps),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator printed {url!r}, not its URL")
        yield url
    finally:
        proc.terminate()
        await proc.wait()
        os.unlink(f.name)


@contextlib.asynccontextmanager
async def emulator_here(size: str, fps: float) -> AsyncIterator[str]:
    width, height = (int(v) for v in size.split("x"))
    async with embedded_emulator(media_size=(width, height), fps=fps) as emu:
        yield emu.base_url


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2, help="joins not counted (imports, JIT)")
    parser.add_argument("--in-process", action="store_true", help="emulator on our event loop")
    parser.add_argument("--size", default="640x360", help="the video the node sends")
    parser.add_argument("--fps", type=float, default=15.0, help="the node's frame rate")
    parser.add_argument("--alias", default=DEMO_ALIAS, help="demo, or test_call (own media back)")
    parser.add_argument("--each", action="store_true", help="print each join's timeline too")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="aiortc's own jitter buffer and ICE pacing (pexbot.rtc.prompt_start off): the before",
    )
    args = parser.parse_args()
    if args.baseline:
        prompt_start.complete_frames_at_marker = lambda receiver: False
        prompt_start.unpaced_ice_completion = lambda pc: 0
    start = emulator_here if args.in_process else emulator_process
    runs: list[dict[str, float]] = []
    cpu0 = time.process_time()
    async with start(args.size, args.fps) as node:
        for i in range(args.warmup + args.joins):
            steps = await one_join(node, args.alias)
            if i >= args.warmup:
                runs.append(steps)
                if args.each:
                    print(json.dumps(steps), file=sys.stderr, flush=True)
    cpu = time.process_time() - cpu0
    totals = [r["first_frame"] for r in runs]
    names = sorted(
        {k for r in runs for k in r}, key=lambda k: statistics.median(r[k] for r in runs if k in r)
    )
    breakdown = {k: round(statistics.median(r[k] for r in runs if k in r), 1) for k in names}
    result = {
        "benchmark": "join_latency",
        "emulator": "in-process" if args.in_process else "separate process",
        "alias": args.alias,
        "baseline": args.baseline,
        "joins": len(runs),
        "node_video": f"{args.size}@{args.fps:g}",
        "first_frame_ms": {
            "p50": percentile(totals, 50),
            "p95": percentile(totals, 95),
            "min": round(min(totals), 1),
            "max": round(max(totals), 1),
        },
        "median_step_ms": breakdown,
        "cpu_s_per_join": round(cpu / (args.warmup + args.joins), 3),
        "machine": SimpleNamespace(cpus=os.cpu_count()).__dict__,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
