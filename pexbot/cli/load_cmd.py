"""``pexbot load --bots N --ramp PER_SECOND``: N bots in one process.

Bots are started at ``--ramp`` per second; each joins, sends a small test pattern and tone
(``--media audio`` or ``none`` for less) and counts what it receives. A progress table on
stderr shows how many joined, have media flowing and failed. After ``--duration`` seconds of
holding (counted once the last bot was started), or at Ctrl-C, every bot leaves and a JSON
summary is printed: counts, join-time percentiles, failures by reason, CPU and memory per bot.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from pexbot.errors import ConfigError
from pexbot.jobs.load import LoadJob, LoadOptions
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.status_line import LOAD_HEADER, StatusLine, load_row

from .common import (
    add_join_options,
    add_run_options,
    description,
    join_target,
    metrics_server,
    print_json,
    stop_on_signals,
)

#: the size of the emulator's pictures when it runs in-process with many bots
EMBEDDED_MEDIA_SIZE = (320, 180)


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "load",
        help="N bots in one process: join times, failures, CPU and memory per bot",
        description=description(__doc__),
    )
    parser.add_argument("--bots", type=int, required=True, metavar="N", help="how many bots")
    parser.add_argument(
        "--ramp", type=float, default=1.0, metavar="PER_SECOND", help="bots started per second (1)"
    )
    parser.add_argument(
        "--media",
        choices=("video", "audio", "none"),
        default="video",
        help="what each bot sends: pattern + tone (video), tone (audio), no call (none)",
    )
    parser.add_argument("--width", type=int, default=160, help="bot pattern width (default 160)")
    parser.add_argument("--height", type=int, default=90, help="bot pattern height (default 90)")
    parser.add_argument("--fps", type=float, default=10.0, help="bot pattern frame rate (10)")
    parser.add_argument("--no-status", action="store_true", help="no progress table on stderr")
    add_join_options(parser)
    add_run_options(
        parser,
        duration=None,
        duration_help="seconds to hold once every bot was started (default: until Ctrl-C)",
    )
    parser.set_defaults(run=run)


def options_of(args: argparse.Namespace) -> LoadOptions:
    if args.bots < 1:
        raise ConfigError("--bots must be at least 1")
    if args.ramp <= 0:
        raise ConfigError("--ramp must be positive")
    if args.width % 2 or args.height % 2 or args.width < 64 or args.height < 36:
        raise ConfigError("--width/--height must be even and at least 64x36")
    return LoadOptions(
        bots=args.bots,
        ramp=args.ramp,
        duration=args.duration,
        media=args.media,
        width=args.width,
        height=args.height,
        fps=args.fps,
        name_prefix=args.name,
    )


async def run(args: argparse.Namespace) -> int:
    options = options_of(args)
    registry = MetricsRegistry()
    table = None if args.no_status else StatusLine(sys.stderr, header=LOAD_HEADER, pipe_every=2.0)

    def progress(job: LoadJob) -> None:
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


def _elapsed(job: LoadJob) -> float:
    return time.monotonic() - job.started_at
