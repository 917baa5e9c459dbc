"""One bot presents a file (a video, an image or a folder of slides); another watches the
presentation and measures it: frames, frame rate, size, and the frame numbers it could read.

    python examples/07_present_file.py                        # a local emulator, a made-up clip
    python examples/07_present_file.py --file deck/ --seconds 3
    python examples/07_present_file.py --node https://pexip.example.com --alias meet.test

With no ``--node`` an emulator is started in this process (its calls are answered by aiortc,
which relays the slides to the watcher). With no ``--file`` a short clip is made with av. The
presented frames carry a frame-number code in their corner, so the watcher can tell which ones
arrived. The presenter stops after ``--duration`` seconds; one JSON report is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np

from media import Analyser, ContentCaps
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend


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


def make_clip(path: Path, width: int, height: int, fps: int = 10, seconds: float = 3.0) -> Path:
    """A VP8 clip of a moving colour gradient."""
    xs = np.arange(width)[None, :]
    ys = np.arange(height)[:, None]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        for i in range(round(seconds * fps)):
            rgb = np.zeros((height, width, 3), np.uint8)
            rgb[..., 0] = (xs + 8 * i) % 256
            rgb[..., 1] = (2 * ys + 4 * i) % 256
            rgb[..., 2] = 90
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, fractions.Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


async def main(args: argparse.Namespace) -> int:
    watcher = Analyser()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(args.file) if args.file else make_clip(Path(tmp) / "clip.mkv", 320, 180)
        caps = ContentCaps(max_width=args.max_width, max_height=args.max_height)
        async with node_url(args) as node:

            def bot(name: str) -> Session:
                return Session(
                    node, args.alias, display_name=name, pin=args.pin, verify_tls=not args.insecure
                )

            async with bot("presenter") as presenter, bot("watcher") as viewer:
                await presenter.call()
                await viewer.call(on_track=lambda role, track: watcher.add_track(track, role=role))
                playlist = await presenter.presentation.present_files(
                    [source], loop=True, seconds=args.seconds, caps=caps, stamp_codes=True
                )
                print(f"presenting {source} for {args.duration:.0f} s")
                await asyncio.sleep(args.duration)
                await presenter.presentation.stop()
                stopped = await presenter.presentation.wait_stopped()
                sent = playlist.track.frames_out
        await watcher.close()
    role = watcher.report().roles.get("presentation")
    video = role.video if role is not None else None
    report: dict[str, object] = {"sent_frames": sent, "stopped": stopped.reason}
    if video is not None:
        report["received"] = {
            "frames": video.frames,
            "fps": video.fps,
            "size": f"{video.width}x{video.height}",
            "numbers_read": video.numbers_read,
            "numbers_missing": video.numbers_missing,
        }
    print(json.dumps(report))
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--node", help="node URL (default: start a local emulator)")
    parser.add_argument("--alias", default="meet", help="conference alias (default: meet)")
    parser.add_argument("--pin", help="host or guest PIN")
    parser.add_argument("--file", help="video, image or folder of slides (default: a clip)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each image shows")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to present")
    parser.add_argument("--max-width", type=int, default=1920)
    parser.add_argument("--max-height", type=int, default=1080)
    parser.add_argument("--width", type=int, default=320, help="emulator picture width")
    parser.add_argument("--height", type=int, default=180, help="emulator picture height")
    parser.add_argument("--fps", type=float, default=15.0, help="emulator frame rate")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse())))
