"""``pexbot present FILE...``: join, take the floor, play the files as the presentation (videos
in real time, images for ``--slide-seconds`` each, folders as slide decks), give the floor back
and leave; or play them round and round with ``--loop``.

Prints a line per item as it comes on screen and a summary (``--json``: one object with the
items, the seconds presented, the frames sent and how it ended: finished, duration, taken_over,
signal or ended). Ends when the files are over, after ``--duration`` seconds of presenting,
when someone else takes the floor, or at Ctrl-C / SIGTERM; the floor is given back and the
conference left either way. A file that is missing or unreadable, or a refused floor, is a
one-line error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from pexbot.errors import ConfigError, FloorDenied
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.present import PlayedItem, PresentJob, PresentOptions, PresentResult, open_playlist
from pexbot.jobs.status_line import clock_text

from .common import (
    add_join_options,
    add_run_options,
    description,
    error_line,
    join_target,
    metrics_server,
    print_json,
    stop_on_signals,
)


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "present",
        help="present files (videos, images, slide folders) in a conference",
        description=description(__doc__),
    )
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="videos, images or folders of slides, in order"
    )
    parser.add_argument(
        "--slide-seconds",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long each image is shown (default 5)",
    )
    parser.add_argument(
        "--loop", action="store_true", help="play the files round and round (until --duration)"
    )
    parser.add_argument(
        "--stamp-codes",
        action="store_true",
        help="for testing: a frame-number code in each frame's corner, readable by a receiver",
    )
    add_join_options(parser)
    add_run_options(
        parser,
        duration=None,
        duration_help="give the floor back and leave after SECONDS of presenting "
        "(default: when the files are over; with --loop, at Ctrl-C)",
    )
    parser.set_defaults(run=run)


def options_of(args: argparse.Namespace) -> PresentOptions:
    if args.slide_seconds <= 0:
        raise ConfigError("--slide-seconds must be positive")
    if args.duration is not None and args.duration <= 0:
        raise ConfigError("--duration must be positive")
    return PresentOptions(
        paths=tuple(Path(name) for name in args.files),
        slide_seconds=args.slide_seconds,
        loop=args.loop,
        duration=args.duration,
        stamp_codes=args.stamp_codes,
    )


async def run(args: argparse.Namespace) -> int:
    options = options_of(args)
    # the files are checked before anything is started or joined
    playlist = await open_playlist(options)
    registry = MetricsRegistry()
    on_item = None if args.json else _print_item
    try:
        async with (
            stop_on_signals() as stop,
            join_target(args) as target,
            metrics_server(args, registry),
        ):
            job = PresentJob(target, options, playlist=playlist, on_item=on_item, metrics=registry)
            result = await job.run(stop)
    except FloorDenied as exc:
        # the session was left (token released) on the way out
        print(
            error_line(exc).replace("pexbot: ", "pexbot: the floor was refused: ", 1),
            file=sys.stderr,
        )
        return 1
    finally:
        await playlist.close()
    _print_result(result, json_output=args.json)
    if result.frames_sent == 0:
        why = result.errors[0] if result.errors else "no frame was sent"
        print(f"pexbot: nothing was presented: {' '.join(why.split())}", file=sys.stderr)
        return 1
    return 0


def ended_text(result: PresentResult) -> str:
    """How it ended, as the CLI says it: a stop can only come from a signal here."""
    return "signal" if result.ended == "stopped" else result.ended


def item_line(item: PlayedItem) -> str:
    shown = f"image, {item.seconds:g} s" if item.seconds is not None else item.kind
    again = f", round {item.round}" if item.round > 1 else ""
    return f"{clock_text(item.at)} item {item.index + 1}/{item.of}{again}: {item.label} ({shown})"


def _print_item(item: PlayedItem) -> None:
    # a reader gone (`| head`) does not stop the presentation; the summary then reports it
    with contextlib.suppress(BrokenPipeError):
        print(item_line(item), flush=True)


def _print_result(result: PresentResult, *, json_output: bool) -> None:
    how = ended_text(result)
    if json_output:
        print_json({**result.to_json(), "ended": how}, compact=True)
        return
    played = len(result.items)
    by = f" by {result.taken_by}" if result.taken_by else ""
    print(
        f"presented {result.seconds:.1f} s: {played} item{'s' if played != 1 else ''} played, "
        f"{result.frames_sent} frames sent ({how}{by})",
        flush=True,
    )
    for error in result.errors:
        print(f"  skipped: {error}", flush=True)
