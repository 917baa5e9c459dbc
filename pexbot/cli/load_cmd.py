"""``pexbot load --bots N --ramp PER_SECOND``: N bots in one process.

Bots are started at ``--ramp`` per second; each joins, sends the numbered pattern (640x360 VP8
at 15 fps by default) and tone, encoded once for all of them, and counts what it receives
without decoding (``--media audio`` or ``none`` for less); a bot whose media stops fails.
A progress table on stderr shows how many joined, have media flowing and failed. After
``--duration`` seconds of holding (counted once the last bot was started), or at Ctrl-C,
every bot leaves and a JSON summary is printed: counts, join-time percentiles, failures by
reason, CPU and memory per bot, media health per bot.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from media.errors import SourceError
from media.shared_file import SharedFile
from pexbot.errors import ConfigError
from pexbot.jobs import load as load_module
from pexbot.jobs.load import LoadJob, LoadOptions
from pexbot.jobs.load_processes import ProcessesJob
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.status_line import LOAD_HEADER, StatusLine, load_row

from .common import (
    add_join_options,
    add_loop_option,
    add_run_options,
    description,
    join_target,
    metrics_server,
    print_json,
    stop_on_signals,
)

#: pexbot's locustfile (:mod:`pexbot.jobs.locustfile`), found without importing Locust
LOCUSTFILE = Path(load_module.__file__).with_name("locustfile.py")

#: the size of the emulator's pictures when it runs in-process with many bots
EMBEDDED_MEDIA_SIZE = (320, 180)


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "load",
        help="N bots in one process: join times, failures, CPU and memory per bot",
        description=description(__doc__),
    )
    parser.add_argument("--bots", type=int, metavar="N", help="how many bots (required)")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="split the bots over N processes to use N cores (default 1)",
    )
    parser.add_argument(
        "--locustfile",
        action="store_true",
        help="print the path of pexbot's locustfile and exit (pip install 'pexbot[load]')",
    )
    parser.add_argument(
        "--ramp", type=float, default=1.0, metavar="PER_SECOND", help="bots started per second (1)"
    )
    parser.add_argument(
        "--media",
        choices=("video", "audio", "none"),
        default="video",
        help="what each bot sends: pattern + tone (video), tone (audio), no call (none)",
    )
    parser.add_argument(
        "--resolution",
        default="360p",
        metavar="360p|720p|WxH",
        help="size of the bots' pattern (default 360p: 640x360)",
    )
    parser.add_argument("--fps", type=float, default=15.0, help="bot pattern frame rate (15)")
    parser.add_argument(
        "--codec", choices=("vp8", "h264"), default="vp8", help="video codec the bots send (vp8)"
    )
    parser.add_argument(
        "--verify-every",
        type=int,
        default=150,
        metavar="N",
        help="decode one keyframe per N received video frames to read the pattern (0: never)",
    )
    parser.add_argument(
        "--decoded",
        action="store_true",
        help="an encoder and a decoder per bot instead of media encoded once and counted undecoded",
    )
    parser.add_argument(
        "--media-file",
        metavar="FILE",
        help="send this file's VP8/H.264 + Opus packets as they are, looped, never decoded "
        "(keyframes only where the file has them: use short GOPs)",
    )
    parser.add_argument("--no-status", action="store_true", help="no progress table on stderr")
    add_loop_option(parser)
    add_join_options(parser)
    add_run_options(
        parser,
        duration=None,
        duration_help="seconds to hold once every bot was started (default: until Ctrl-C)",
    )
    parser.set_defaults(run=run)


def options_of(args: argparse.Namespace) -> LoadOptions:
    if args.bots is None:
        raise ConfigError("--bots is required")
    if args.bots < 1:
        raise ConfigError("--bots must be at least 1")
    if args.ramp <= 0:
        raise ConfigError("--ramp must be positive")
    width, height = resolution(args.resolution)
    if args.fps <= 0 or args.fps > 60:
        raise ConfigError("--fps must be above 0 and at most 60")
    if args.verify_every < 0:
        raise ConfigError("--verify-every must be 0 or more")
    codec = args.codec
    if args.media_file is not None:
        try:
            file_codec, _, _ = SharedFile.probe(args.media_file)
        except SourceError as exc:
            raise ConfigError(f"--media-file: {exc}") from None
        codec = file_codec or codec  # the bots send the file's codec
    return LoadOptions(
        bots=args.bots,
        ramp=args.ramp,
        duration=args.duration,
        media=args.media,
        width=width,
        height=height,
        fps=args.fps,
        name_prefix=args.name,
        encoded=not args.decoded,
        codec=codec,
        verify_every=args.verify_every,
        media_file=args.media_file,
    )


def resolution(text: str) -> tuple[int, int]:
    """``360p``, ``720p`` or ``WxH`` (even, at least 64x36) as (width, height)."""
    named = {"360p": (640, 360), "720p": (1280, 720), "180p": (320, 180)}
    if text.lower() in named:
        return named[text.lower()]
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--resolution must be 360p, 720p or WxH, got {text!r}") from None
    if w % 2 or h % 2 or w < 64 or h < 36 or w > 1920 or h > 1080:
        raise ConfigError("--resolution must be even, from 64x36 to 1920x1080")
    return w, h


async def run(args: argparse.Namespace) -> int:
    if args.locustfile:
        print(LOCUSTFILE, flush=True)
        return 0
    options = options_of(args)
    if args.processes < 1:
        raise ConfigError("--processes must be at least 1")
    if args.processes > 1 and args.metrics_port is not None:
        raise ConfigError("--metrics-port works with --processes 1 only")
    registry = MetricsRegistry()
    table = None if args.no_status else StatusLine(sys.stderr, header=LOAD_HEADER, pipe_every=2.0)

    def progress(job: LoadJob | ProcessesJob) -> None:
        if table is not None:
            counts = job.counts()
            table.show(
                load_row(
                    _elapsed(job),
                    target=counts["target"],
                    started=counts["started"],
                    joined=counts["joined"],
                    media=counts["media_flowing"],
                    failed=counts["failed"],
                    left=counts["left"],
                )
            )

    async with (
        stop_on_signals() as stop,
        join_target(args, media_size=EMBEDDED_MEDIA_SIZE, fps=10.0) as target,
        metrics_server(args, registry),
    ):
        job: LoadJob | ProcessesJob
        if args.processes > 1:
            job = ProcessesJob(
                target,
                options,
                processes=args.processes,
                ca_file=args.ca_file,
                on_progress=progress,
                loop=args.event_loop,
            )
        else:
            job = LoadJob(target, options, on_progress=progress, metrics=registry)
        try:
            summary = await job.run(stop)
        finally:
            if table is not None:
                table.close()
    print_json(summary, compact=args.json)
    if summary["failed"]:
        print(failure_line(summary), file=sys.stderr)
        return 1
    return 0


def failure_line(summary: dict[str, Any]) -> str:
    """One line for stderr: how many bots failed, by reason with an example message."""
    reasons = "; ".join(
        f"{kind} x{entry['count']}: {entry['example']}"
        for kind, entry in sorted(summary["failures"].items(), key=lambda kv: -kv[1]["count"])
    )
    text = f"{summary['failed']} of {summary['started']} bots failed: {reasons}"
    return "pexbot: " + " ".join(text.split())


def _elapsed(job: LoadJob | ProcessesJob) -> float:
    return time.monotonic() - job.started_at
