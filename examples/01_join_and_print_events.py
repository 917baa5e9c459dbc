"""Join a conference and print who is there and every event that arrives.

    python examples/01_join_and_print_events.py                       # a local emulator
    python examples/01_join_and_print_events.py --node https://pexip.example.com \\
        --alias meet.alice --pin 1234 --duration 60

With no ``--node`` an emulator is started in this process and the bot joins it. Stops after
``--duration`` seconds (default: until Ctrl-C) or when the node ends the session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig


@contextlib.asynccontextmanager
async def node_url(args: argparse.Namespace) -> AsyncIterator[str]:
    """The node to join: ``--node``, or an emulator started here for the occasion."""
    if args.node:
        yield args.node
        return
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[args.alias])])
    async with Emulator(config) as emu:
        print(f"started an emulator at {emu.base_url}")
        yield emu.base_url


async def main(args: argparse.Namespace) -> int:
    async with (
        node_url(args) as node,
        Session(
            node,
            args.alias,
            display_name=args.name,
            pin=args.pin,
            verify_tls=not args.insecure,
        ) as session,
    ):
        print(f"joined {args.alias} as {session.info.display_name} ({session.role})")
        for participant in session.state.roster.values():
            print(f"  present: {participant.display_name} [{participant.role}]")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                async for event in session.events():
                    print(f"event: {event!r}")
        print(f"leaving ({session.end_reason or 'time is up'})")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--node", help="node URL (default: start a local emulator)")
    parser.add_argument("--alias", default="meet", help="conference alias (default: meet)")
    parser.add_argument("--name", default="pexbot example", help="display name")
    parser.add_argument("--pin", help="host or guest PIN ('none' joins as a guest)")
    parser.add_argument("--duration", type=float, help="seconds to stay (default: until Ctrl-C)")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse())))
