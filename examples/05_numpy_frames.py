"""Process media as numpy arrays: generate the frames we send, analyse the frames we receive.

    python examples/05_numpy_frames.py                            # a local emulator's test call
    python examples/05_numpy_frames.py --node https://pexip.example.com --alias meet --duration 30

We send a picture computed with numpy (a bright bar sweeping across a dark background) and a
low hum, and get every received frame as an array: ``H x W x 3`` uint8 for video, int16
``(samples, channels)`` for audio. The callback runs on a worker thread, so heavy numpy work
never stalls the connection; it prints, once a second, the brightness of what it sees and where
the brightest column is (in a test call: our own bar, coming back).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import numpy.typing as npt

from media import CallbackSink, NumpyAudioSource, NumpyVideoSource
from pexbot import Session
from pexbot.jobs import TEST_CALL_ALIAS, embedded_emulator

WIDTH, HEIGHT, FPS = 320, 180, 15


def sweeping_bar(index: int, t: float) -> npt.NDArray[np.uint8]:
    picture = np.full((HEIGHT, WIDTH, 3), 30, np.uint8)
    x = (index * 8) % WIDTH
    picture[:, x : x + 16] = 230
    return picture


def hum(index: int, t: float) -> npt.NDArray[np.int16]:
    n = np.arange(960) + index * 960  # 20 ms at 48 kHz
    return (3000 * np.sin(2 * np.pi * 120 * n / 48000)).astype(np.int16)


class Stats:
    def __init__(self) -> None:
        self.last_print = time.monotonic()
        self.frames = 0
        self.brightness = 0.0
        self.column = 0
        self.rms = 0.0

    def on_frame(self, role: str, kind: str, array: npt.NDArray[Any], pts: float | None) -> None:
        if kind == "video":
            self.frames += 1
            grey = array.mean(axis=2)
            self.brightness = float(grey.mean())
            self.column = int(grey.mean(axis=0).argmax())
        else:
            self.rms = float(np.sqrt(np.mean(array.astype(np.float64) ** 2)))
        if time.monotonic() - self.last_print >= 1.0:
            self.last_print = time.monotonic()
            print(
                f"{role}: {self.frames} frames, brightness {self.brightness:.0f}, "
                f"brightest column {self.column}, audio RMS {self.rms:.0f}"
            )


@contextlib.asynccontextmanager
async def node_url(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.node:
        yield args.node
        return
    async with embedded_emulator() as emu:
        print(f"started an emulator at {emu.base_url}")
        yield emu.base_url


async def main(args: argparse.Namespace) -> int:
    stats = Stats()
    sink = CallbackSink(stats.on_frame)  # a plain function: runs on a worker thread
    video = NumpyVideoSource(sweeping_bar, fps=FPS)
    audio = NumpyAudioSource(hum)
    async with node_url(args) as node, Session(node, args.alias, pin=args.pin) as session:
        await session.call(
            audio=audio, video=video, on_track=lambda role, track: sink.add_track(track, role=role)
        )
        await asyncio.sleep(args.duration)
    await sink.close()
    video.stop()
    audio.stop()
    print(f"received {stats.frames} video frames")
    return 0 if stats.frames else 1


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
