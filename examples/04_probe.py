"""Probe media quality: send the test pattern and tone, measure what comes back.

    python examples/04_probe.py                                   # a local emulator's test call
    python examples/04_probe.py --node https://pexip.example.com --alias test_call --duration 20

The pattern carries each frame's number and capture time, the tone a timing marker every
second; ``media.Analyser`` reads them from the received media: frame rate, freezes, latency
(where our own pattern comes back, as in a test call), audio level, A/V offset. Both sources
share one ``MediaClock`` so the A/V offset means something. ``pexbot probe`` adds thresholds,
RTP loss and jitter and an HTML report (``pexbot.jobs.ProbeJob`` is its library form).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator

from media import Analyser, MediaClock, PatternVideoSource, ToneAudioSource
from pexbot import Session
from pexbot.jobs import TEST_CALL_ALIAS, embedded_emulator


@contextlib.asynccontextmanager
async def node_url(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.node:
        yield args.node
        return
    async with embedded_emulator() as emu:  # "test_call" loops our media back
        print(f"started an emulator at {emu.base_url}")
        yield emu.base_url


async def main(args: argparse.Namespace) -> int:
    clock = MediaClock()
    video = PatternVideoSource(320, 180, fps=15, clock=clock)
    audio = ToneAudioSource(clock=clock)
    analyser = Analyser()
    async with node_url(args) as node, Session(node, args.alias, pin=args.pin) as session:
        await session.call(
            audio=audio,
            video=video,
            on_track=lambda role, track: analyser.add_track(track, role=role),
        )
        await asyncio.sleep(args.duration)
    await analyser.close()
    video.stop()
    audio.stop()
    main_role = analyser.report().roles.get("main")
    if main_role is None or main_role.video is None:
        print("no video came back")
        return 1
    v, a = main_role.video, main_role.audio
    print(
        json.dumps(
            {
                "fps": v.fps,
                "size": f"{v.width}x{v.height}",
                "freezes": v.freezes,
                "video_latency_ms": v.latency.median_ms if v.latency else None,
                "audio_level_dbfs": a.level_dbfs if a else None,
                "audio_latency_ms": a.latency.median_ms if a and a.latency else None,
                "av_offset_ms": main_role.av_offset_ms,
            }
        )
    )
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--node", help="node URL (default: start a local emulator)")
    parser.add_argument("--alias", default=TEST_CALL_ALIAS, help="alias (default: test_call)")
    parser.add_argument("--pin", help="host or guest PIN")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to measure (10)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse())))
