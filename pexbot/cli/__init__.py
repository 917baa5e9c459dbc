"""The ``pexbot`` command line.

Each sub-command lives in its own module exposing ``add_parser(subparsers)``, which registers a
parser with ``set_defaults(run=<async fn(args) -> int>)``. Every option can also be set from a
``PEXBOT_*`` environment variable (see :mod:`.common`). Errors end as one line on stderr and a
non-zero exit code (2 for bad options or configuration, 1 for anything else), never a traceback
(``--log-level DEBUG`` logs one for unexpected errors).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from pexbot.errors import ConfigError, PexbotError
from pexbot.jobs.event_loop import loop_factory

from . import emulator_cmd, join_cmd, load_cmd, present_cmd, probe_cmd, record_cmd
from .common import LOG_LEVELS, EnvErrors, apply_env, error_line, log_level
from .terminal import SafeFormatter

COMMANDS = (join_cmd, record_cmd, present_cmd, probe_cmd, load_cmd, emulator_cmd)

log = logging.getLogger("pexbot.cli")


def build_parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The whole command line, with ``PEXBOT_*`` defaults from ``environ`` (values that do not
    parse are left out: :func:`parse_command_line` reports them)."""
    return _build(environ or {})[0]


def _build(environ: Mapping[str, str]) -> tuple[argparse.ArgumentParser, EnvErrors]:
    parser = argparse.ArgumentParser(
        prog="pexbot", description="Headless WebRTC endpoint for Pexip Infinity."
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        type=log_level,
        choices=LOG_LEVELS,
        help="logging level on stderr (default WARNING)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser, apply_env(parser, environ)


def parse_command_line(
    argv: Sequence[str] | None, environ: Mapping[str, str]
) -> argparse.Namespace:
    """Parsed arguments; ConfigError for a ``PEXBOT_*`` value the chosen command cannot use."""
    parser, errors = _build(environ)
    args = parser.parse_args(argv)
    found = errors.get(None, []) + errors.get(args.command, [])
    if found:
        raise ConfigError(found[0])
    return args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_command_line(argv, os.environ)
    except PexbotError as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, args.log_level), handlers=[handler])
    try:
        factory = loop_factory(getattr(args, "event_loop", "asyncio"))
        with asyncio.Runner(loop_factory=factory) as runner:
            code: int = runner.run(args.run(args))
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        # a second SIGINT/SIGTERM cancels the job (common.stop_on_signals); it has left
        print("pexbot: stopped by force (second signal)", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, PexbotError | OSError):
            log.debug("unexpected error", exc_info=exc)
        print(error_line(exc), file=sys.stderr)
        # bad options or configuration are usage errors, as argparse's own are
        return 2 if isinstance(exc, ConfigError) else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
