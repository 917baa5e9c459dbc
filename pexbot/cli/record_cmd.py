"""``pexbot record --out DIR``: record the conference (main audio+video, the presentation when
there is one) and its roster, chat and presentation events.

The received VP8/H.264 + Opus packets are written as they are (passthrough, no decoding: mkv or
webm, a keyframe asked for at the start and after a loss); ``--transcode`` decodes and
re-encodes into fixed codecs instead (needed for ``--container mp4``: H.264 + AAC).
Writes ``DIR/main.mkv``, ``DIR/presentation.mkv`` (when someone presents; on the same clock) and
``DIR/events.jsonl``. A status line on stderr shows the elapsed time, the received
bitrate and the participants. Ends on ``--duration``, when the conference ends, or at Ctrl-C /
SIGTERM; the files are finalised either way. Prints what it wrote (``--json``: one object).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pexbot.errors import ConfigError
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.record import RecordJob, RecordOptions, RecordResult, RecordStatus
from pexbot.jobs.status_line import StatusLine, record_status

from .common import (
    add_join_options,
    add_loop_option,
    add_rejoin_option,
    add_run_options,
    description,
    join_target,
    metrics_server,
    print_json,
    stop_on_signals,
)
from .terminal import terminal_safe

CONTAINERS = ("mkv", "webm", "mp4")


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "record",
        help="record a conference's audio, video, presentation and events",
        description=description(__doc__),
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="directory for the files (created if needed)"
    )
    parser.add_argument(
        "--container",
        choices=CONTAINERS,
        default="mkv",
        help="mkv (default) or webm; mp4 (H.264 + AAC) only with --transcode",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--transcode",
        dest="transcode",
        action="store_true",
        help="decode and re-encode (VP8 + Opus in mkv/webm, H.264 + AAC in mp4) instead of "
        "writing the received packets as they are",
    )
    mode.add_argument(
        "--passthrough",
        dest="transcode",
        action="store_false",
        help="write the received packets as they are, no decoding (the default; kept for "
        "compatibility)",
    )
    parser.set_defaults(transcode=False)
    parser.add_argument("--no-status", action="store_true", help="no live status line on stderr")
    add_join_options(parser)
    add_rejoin_option(parser)
    add_loop_option(parser, default="asyncio")
    add_run_options(parser, duration=None, duration_help="stop after SECONDS (default: Ctrl-C)")
    parser.set_defaults(run=run)


def out_dir(value: str) -> Path:
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    return out


async def run(args: argparse.Namespace) -> int:
    out = out_dir(args.out)
    if args.container == "mp4" and not args.transcode:
        raise ConfigError(
            "--container mp4 needs --transcode (passthrough writes the received packets into "
            "mkv or webm)"
        )
    registry = MetricsRegistry()
    status = None if args.no_status else StatusLine(sys.stderr)

    def show(s: RecordStatus) -> None:
        if status is not None:
            status.show(record_status(s.elapsed, s.rx_bps, s.participants, s.roles))

    async with (
        stop_on_signals() as stop,
        join_target(args) as target,
        metrics_server(args, registry),
    ):
        options = RecordOptions(
            out=out,
            duration=args.duration,
            container=args.container,
            transcode=args.transcode,
        )
        job = RecordJob(target, options, on_status=show, metrics=registry)
        try:
            result = await job.run(stop)
        finally:
            if status is not None:
                status.close()
    _print_result(result, json_output=args.json)
    return 0


def _print_result(result: RecordResult, *, json_output: bool) -> None:
    if json_output:
        print_json(result.to_json(), compact=True)
        return
    print(f"recorded {result.seconds:.1f} s ({terminal_safe(result.reason)})")
    for role, info in sorted(result.files.items()):
        size = info["bytes"] / 2**20
        print(f"  {role}: {info['file']} ({info['duration_s']:.1f} s, {size:.1f} MiB)")
    if not result.files:
        print("  no media arrived: no media files written")
    print(f"  events: {result.events_file} ({result.events} lines)")
