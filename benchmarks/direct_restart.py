"""How fast direct media comes back after the path between two pexbots was blocked.

Two bots join a direct-media conference of the emulator whose path goes through the emulator's
relay; once video flows, the path is blocked for a given time, then restored. Prints one JSON
object per blocking time: when the first picture arrived after the path came back, and how
many restarts (new peer connections) each side made.

    /tmp/venv/bin/python benchmarks/direct_restart.py --blocks 1.5 3 4.4 5.2 7.9
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from media.pattern import find_codes
from media.synthetic import PatternVideoSource
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig

ALIAS = "relayed"


class Arrivals:
    """Reads the pattern numbers of one video track and keeps (arrival, number)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def on_track(self, role: str, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.get_running_loop().create_task(self._read(track)))
        else:
            self._tasks.append(asyncio.get_running_loop().create_task(_drain(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, VideoFrame)
                image = await asyncio.to_thread(frame.to_ndarray, format="gray")
                now = time.monotonic()
                self.seen += [(now, code.number) for code in find_codes(image)]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


async def one(emu: Emulator, block: float) -> dict[str, object]:
    async with (
        Session(emu.base_url, ALIAS, display_name="a", direct_media=True) as a,
        Session(emu.base_url, ALIAS, display_name="b", direct_media=True) as b,
    ):
        arrivals = Arrivals()
        call_a = await a.call(
            video=PatternVideoSource(320, 180, fps=15), on_track=arrivals.on_track
        )
        call_b = await b.call(video=PatternVideoSource(320, 180, fps=15))
        try:
            while len(arrivals.seen) < 15:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            emu.faults.block_path(ALIAS)
            await asyncio.sleep(block)
            emu.faults.block_path(ALIAS, blocked=False)
            back = time.monotonic()
            deadline = back + 30
            while not any(t > back for t, _ in arrivals.seen) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            first = next((t for t, _ in arrivals.seen if t > back), None)
            return {
                "blocked_s": block,
                "media_after_unblock_s": round(first - back, 3) if first else None,
                "restarts": {"a": call_a.restarts, "b": call_b.restarts},
            }
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await arrivals.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--blocks", type=float, nargs="+", default=[1.5, 3.0, 4.4, 5.2, 7.9])
    args = parser.parse_args()
    config = EmulatorConfig(
        conferences=[ConferenceConfig(aliases=[ALIAS], direct_media=True, direct_media_relay=True)]
    )
    async with Emulator(config) as emu:
        for block in args.blocks:
            print(json.dumps(await one(emu, block)), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    asyncio.run(main())
