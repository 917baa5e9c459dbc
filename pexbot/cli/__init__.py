"""The ``pexbot`` command line.

Each sub-command lives in its own module exposing ``add_parser(subparsers)`` and an async
``run(args) -> int``. Errors end as one line on stderr and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from ..errors import PexbotError
from . import emulator_cmd, join_cmd

COMMANDS = (join_cmd, emulator_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pexbot", description="Headless WebRTC endpoint for Pexip Infinity."
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level on stderr (default WARNING)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = asyncio.run(args.run(args))
    except KeyboardInterrupt:
        return 130
    except PexbotError as exc:
        print(f"pexbot: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pexbot: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
