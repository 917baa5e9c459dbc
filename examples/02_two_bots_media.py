"""Two bots in one conference, each sending a test pattern and a tone and measuring what it
receives from the other: frame rate, frame numbers read, tone, latency.

    python examples/02_two_bots_media.py                      # a local emulator with media
    python examples/02_two_bots_media.py --node https://pexip.example.com --alias meet.test

With no ``--node`` an emulator is started in this process; its calls are answered by aiortc,
which relays each bot's media to the other. Against a real node the pictures are whatever its
layout makes of them (the analyser reads the pattern codes anywhere in the picture).
Prints one JSON report per bot after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator

from media import Analyser, PatternVideoSource, ToneAudioSource, ToneSpec
from pexbot import MediaCall, Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend

#: one tone per bot, so each can check it hears the other (multiples of 100 Hz)
TONES = (ToneSpec(frequency=1000.0, marker_frequency=1500.0), ToneSpec(600.0, 900.0))


@contextlib.asynccontextmanager
async def node_url(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.node:
        yield args.node
        return
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[args.alias])])
    media = AiortcMediaBackend(card_size=(args.width, args.height), fps=args.fps)
    async with Emulator(config, media=media) as emu:
        print(f"started an emulator at {emu.base_url}")
        yield emu.base_url


async def run_bot(
    session: Session, analyser: Analyser, tone: ToneSpec, args: argparse.Namespace
) -> MediaCall:
    video = PatternVideoSource(args.width, args.height, fps=args.fps)
    return await session.call(
        audio=ToneAudioSource(tone),
        video=video,
        on_track=lambda role, track: analyser.add_track(track, role=role),
    )


def summary(name: str, analyser: Analyser) -> dict[str, object]:
    main = analyser.report().roles.get("main")
    out: dict[str, object] = {"bot": name}
    if main is not None and main.video is not None:
        v = main.video
        out["video"] = {
            "frames": v.frames,
            "fps": v.fps,
            "size": f"{v.width}x{v.height}",
            "numbers_read": v.numbers_read,
            "numbers_missing": v.numbers_missing,
            "latency_ms": v.latency.median_ms if v.latency else None,
        }
    if main is not None and main.audio is not None:
        a = main.audio
        out["audio"] = {
            "seconds": a.seconds,
            "tone_fraction": a.tone_fraction,
            "latency_ms": a.latency.median_ms if a.latency else None,
        }
        out["av_offset_ms"] = main.av_offset_ms
    return out


async def main(args: argparse.Namespace) -> int:
    names = ("bot-a", "bot-b")
    analysers = [Analyser(tone=TONES[1]), Analyser(tone=TONES[0])]  # each hears the other
    async with node_url(args) as node:
        sessions = [
            Session(node, args.alias, display_name=n, pin=args.pin, verify_tls=not args.insecure)
            for n in names
        ]
        async with sessions[0], sessions[1]:
            calls = [
                await run_bot(s, a, tone, args)
                for s, a, tone in zip(sessions, analysers, TONES, strict=True)
            ]
            print(f"both calls up; measuring for {args.duration:.0f} s")
            await asyncio.sleep(args.duration)
            reports = [summary(n, a) for n, a in zip(names, analysers, strict=True)]
            for call in calls:
                await call.disconnect()
        for analyser in analysers:
            await analyser.close()
    for report in reports:
        print(json.dumps(report))
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--node", help="node URL (default: start a local emulator)")
    parser.add_argument("--alias", default="meet", help="conference alias (default: meet)")
    parser.add_argument("--pin", help="host or guest PIN")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to measure")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse())))
