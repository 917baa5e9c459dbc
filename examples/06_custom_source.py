"""Write your own media source: a track class that renders each frame when asked.

    python examples/06_custom_source.py                           # a local emulator's test call
    python examples/06_custom_source.py --node https://pexip.example.com --alias meet

``media.PacedVideoTrack`` and ``media.PacedAudioTrack`` do the pacing and timestamps; a source
only implements ``render``. Here: a clock face whose hand turns once a second, and a rising
chirp. Any aiortc ``MediaStreamTrack`` works as a source too (pexbot wraps what you give it, so
it can be swapped or muted during the call: ``call.set_video_source(...)``). Halfway through,
the example swaps the clock for the built-in test pattern.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
from collections.abc import AsyncIterator

import numpy as np
from av import AudioFrame, VideoFrame

from media import DiscardSink, PacedAudioTrack, PacedVideoTrack, PatternVideoSource
from pexbot import Session
from pexbot.jobs import TEST_CALL_ALIAS, embedded_emulator


class ClockFace(PacedVideoTrack):
    """A white hand on a blue disc, one turn per second."""

    def __init__(self, size: int = 180, *, fps: float = 15.0) -> None:
        super().__init__(fps=fps)
        self.size = size
        yy, xx = np.mgrid[0:size, 0:size] - size / 2
        self._radius = np.hypot(xx, yy)
        self._angle = np.arctan2(xx, -yy) % (2 * math.pi)

    async def render(self, index: int, t: float) -> VideoFrame:
        picture = np.zeros((self.size, self.size, 3), np.uint8)
        picture[self._radius < self.size * 0.45] = (20, 60, 160)
        hand = (t % 1.0) * 2 * math.pi
        near = np.abs((self._angle - hand + math.pi) % (2 * math.pi) - math.pi) < 0.08
        picture[near & (self._radius < self.size * 0.4)] = (255, 255, 255)
        return VideoFrame.from_ndarray(picture, format="rgb24")


class Chirp(PacedAudioTrack):
    """A tone rising from 300 to 900 Hz every second."""

    def __init__(self) -> None:
        super().__init__(sample_rate=48000)

    async def render(self, index: int, first_sample: int, t: float) -> AudioFrame:
        n = first_sample + np.arange(self.samples_per_frame)
        seconds = (n % self.sample_rate) / self.sample_rate
        phase = 2 * math.pi * (300 * seconds + 300 * seconds**2)
        samples = (4000 * np.sin(phase)).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        return frame


@contextlib.asynccontextmanager
async def node_url(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.node:
        yield args.node
        return
    async with embedded_emulator() as emu:
        print(f"started an emulator at {emu.base_url}")
        yield emu.base_url


async def main(args: argparse.Namespace) -> int:
    clock, chirp, pattern = ClockFace(), Chirp(), PatternVideoSource(320, 180, fps=15)
    received = DiscardSink()  # counts what comes back
    async with node_url(args) as node, Session(node, args.alias, pin=args.pin) as session:
        call = await session.call(
            audio=chirp, video=clock, on_track=lambda r, t: received.add_track(t, role=r)
        )
        await asyncio.sleep(args.duration / 2)
        print(f"after {args.duration / 2:.1f} s: {received.frames('main', 'video')} frames back")
        call.set_video_source(pattern)  # swap sources mid-call
        await asyncio.sleep(args.duration / 2)
    await received.close()
    for track in (clock, chirp, pattern):
        track.stop()
    video, audio = received.frames("main", "video"), received.frames("main", "audio")
    print(f"received {video} video and {audio} audio frames")
    return 0 if video and audio else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--node", help="node URL (default: start a local emulator)")
    parser.add_argument("--alias", default=TEST_CALL_ALIAS, help="alias (default: test_call)")
    parser.add_argument("--pin", help="host or guest PIN")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run (10)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse())))
