"""``pexbot probe``: join, send the test pattern and tone, measure what comes back.

Prints a JSON report (join time, time to first frame, fps, resolution, freezes, loss, jitter,
bitrates, end-to-end latency where its own pattern comes back, audio level, A/V offset) and
exits 0, or 1 when a threshold given as an option is not met (``failures`` says which).
``--report FILE.html`` also writes a report with plots over time. With no ``--node`` it joins
the in-process emulator's test call, which loops its media back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pexbot.errors import ConfigError
from pexbot.jobs.demo import TEST_CALL_ALIAS
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.probe import ProbeJob, ProbeOptions
from pexbot.jobs.probe_report import render_html
from pexbot.jobs.probe_result import Thresholds

from .common import (
    add_join_options,
    add_run_options,
    description,
    join_target,
    metrics_server,
    print_json,
    stop_on_signals,
)

#: option → help; each becomes a Thresholds field of the same name
THRESHOLDS = {
    "min_fps": (float, "fail below this received frame rate"),
    "max_latency_ms": (float, "fail above this median video latency (ms)"),
    "max_loss_pct": (float, "fail above this packet loss (%%)"),
    "max_freezes": (int, "fail above this many freezes"),
    "max_join_ms": (float, "fail above this join time (ms)"),
    "max_first_frame_ms": (float, "fail above this time to the first picture (ms)"),
    "max_jitter_ms": (float, "fail above this jitter (ms)"),
    "min_audio_dbfs": (float, "fail below this received audio level (dBFS)"),
    "max_av_offset_ms": (float, "fail above this A/V offset, either way (ms)"),
}


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "probe",
        help="measure media quality: pattern and tone out, what comes back measured",
        description=description(__doc__),
    )
    parser.add_argument("--report", metavar="FILE.html", help="also write an HTML report")
    parser.add_argument("--width", type=int, default=320, help="pattern width (default 320)")
    parser.add_argument("--height", type=int, default=180, help="pattern height (default 180)")
    parser.add_argument("--fps", type=float, default=15.0, help="pattern frame rate (default 15)")
    limits = parser.add_argument_group("thresholds (exit 1 when one is not met)")
    for name, (kind, text) in THRESHOLDS.items():
        limits.add_argument("--" + name.replace("_", "-"), type=kind, help=text)
    add_join_options(parser, default_alias=TEST_CALL_ALIAS)
    add_run_options(parser, duration=10.0, duration_help="seconds to measure (default 10)")
    parser.set_defaults(run=run)


def thresholds_of(args: argparse.Namespace) -> Thresholds:
    return Thresholds(**{name: getattr(args, name) for name in THRESHOLDS})


async def run(args: argparse.Namespace) -> int:
    report_path = Path(args.report) if args.report else None
    if report_path is not None and not report_path.parent.is_dir():
        raise ConfigError(f"--report {report_path}: directory {report_path.parent} does not exist")
    if args.duration is not None and args.duration <= 0:
        raise ConfigError("--duration must be positive")
    options = ProbeOptions(
        duration=args.duration or 10.0,
        width=args.width,
        height=args.height,
        fps=args.fps,
        thresholds=thresholds_of(args),
    )
    if options.width % 2 or options.height % 2 or options.width < 64 or options.height < 36:
        raise ConfigError("--width/--height must be even and at least 64x36")
    registry = MetricsRegistry()
    async with (
        stop_on_signals() as stop,
        join_target(args, embedded_alias=TEST_CALL_ALIAS) as target,
        metrics_server(args, registry),
    ):
        job = ProbeJob(target, options, metrics=registry)
        report = await job.run(stop)
    if report_path is not None:
        report_path.write_text(render_html(report, job.series), encoding="utf-8")
        print(f"pexbot: report written to {report_path}", file=sys.stderr)
    print_json(report.model_dump(mode="json"), compact=args.json)
    for failure in report.failures:
        print(f"pexbot: probe failed: {failure}", file=sys.stderr)
    return 0 if report.ok else 1
