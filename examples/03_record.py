"""Record a conference: main audio+video (and any presentation) into a folder.

    python examples/03_record.py --out recording                  # a local emulator
    python examples/03_record.py --node https://pexip.example.com --alias meet.alice \\
        --pin 1234 --out recording --duration 60

The bot joins, starts a call (sending black and silence) and hands every track it receives to
a ``media.Recorder``: ``main.mkv``, and ``presentation.mkv`` when someone presents (the
session follows presentations by itself). ``pexbot record`` does the same and more
(events.jsonl, status line, signals); this is the library underneath. With no ``--node`` an
emulator is started here, and a second bot sends a test pattern and a tone into the conference
so there is something to record.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from media import PatternVideoSource, Recorder, ToneAudioSource
from pexbot import Session
from pexbot.jobs import DEMO_ALIAS, embedded_emulator


@contextlib.asynccontextmanager
async def local_conference() -> AsyncIterator[str]:
    """An emulator with a bot sending the pattern and tone into its demo conference."""
    async with embedded_emulator() as emu:
        print(f"started an emulator at {emu.base_url}")
        async with Session(emu.base_url, DEMO_ALIAS, display_name="pattern") as sender:
            video, audio = PatternVideoSource(320, 180, fps=15), ToneAudioSource()
            await sender.call(audio=audio, video=video)
            yield emu.base_url
            video.stop()
            audio.stop()


async def record(node: str, args: argparse.Namespace) -> None:
    recorder = Recorder(Path(args.out))  # a directory: main.mkv, presentation.mkv
    async with Session(node, args.alias, display_name=args.name, pin=args.pin) as session:
        # The session follows presentations: their track arrives as role "presentation".
        await session.call(on_track=lambda role, track: recorder.add_track(track, role=role))
        print(f"recording {args.alias} into {args.out}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                await session.ended.wait()
    await recorder.close()  # finalises the files
    for role, stats in recorder.stats().items():
        print(f"{role}: {stats.path} ({stats.duration:.1f} s, {stats.bytes_written} bytes)")


async def main(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as cleanup:
        if args.out is None:  # a look at what it does: record, then throw the files away
            args.out = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="pexbot-"))
        if args.node:
            await record(args.node, args)
        else:
            async with local_conference() as node:
                await record(node, args)
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--node", help="node URL (default: start a local emulator)")
    parser.add_argument("--alias", default=DEMO_ALIAS, help="conference alias (default: demo)")
    parser.add_argument("--name", default="pexbot recorder", help="display name")
    parser.add_argument("--pin", help="host or guest PIN")
    parser.add_argument("--out", help="folder for the files (default: a temporary one, removed)")
    parser.add_argument("--duration", type=float, help="seconds to record (default: until Ctrl-C)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse())))
