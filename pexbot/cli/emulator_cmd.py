"""``pexbot emulator``: run a local Infinity-compatible node until SIGINT/SIGTERM.

The first line on stdout is the base URL (e.g. ``http://127.0.0.1:8080``), flushed at once, so
a script or test can start it with ``--port 0`` and read where it listens. The config file
format is documented in :mod:`pexbot.emulator.config` (example: examples/emulator-config.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
from typing import Any

from pexbot.emulator import Emulator, EmulatorConfig, load_config
from pexbot.emulator.media.backend import MEDIA_CHOICES
from pexbot.emulator.media.impairment import Impairment, ImpairmentError
from pexbot.errors import ConfigError

from .common import add_loop_option


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "emulator",
        help="run a local Pexip Infinity-compatible node (client REST API v2)",
        description="Run a local Pexip Infinity-compatible node. Prints its base URL first.",
    )
    parser.add_argument("--config", metavar="FILE", help="JSON config (conferences, PINs, ...)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to bind; 0 picks a free one (default 8080)"
    )
    parser.add_argument(
        "--media",
        choices=MEDIA_CHOICES,
        default="compose",
        help="compose: transcoded conference (layouts, audio mix; default); "
        "relay: the other participant's media 1:1; forward: one other participant's "
        "encoded media, never decoded (VP8; for load); none: signalling only",
    )
    parser.add_argument(
        "--video-size",
        type=_size,
        default=(640, 360),
        metavar="WxH",
        help="size of the video the node sends (default 640x360)",
    )
    parser.add_argument(
        "--fps", type=float, default=15.0, help="frame rate of the video the node sends (15)"
    )
    add_loop_option(parser)
    parser.add_argument(
        "--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain) file"
    )
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument(
        "--impair",
        type=_impairment,
        metavar="SPEC",
        help="relay every call's media through ports that lose, delay and jitter datagrams, "
        "each way, e.g. loss=5%%,delay=200ms,jitter=50ms (uniform jitter, as netem)",
    )
    parser.set_defaults(run=run)


def server_tls(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """The HTTPS context for ``--tls-cert``/``--tls-key`` (None: plain HTTP)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("--tls-cert and --tls-key go together; give both")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise ConfigError(f"--tls-cert/--tls-key: no such file {exc.filename}") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"--tls-cert/--tls-key: not a usable certificate and key ({exc})"
        ) from None
    return context


def _impairment(text: str) -> Impairment:
    try:
        return Impairment.parse(text)
    except ImpairmentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"sides must be even and at least 16, got {text!r}")
    return width, height


async def run(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else EmulatorConfig()
    tls = server_tls(args.tls_cert, args.tls_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still raises
            loop.add_signal_handler(sig, stop.set)
    emulator = Emulator(
        config,
        host=args.host,
        port=args.port,
        media=args.media,
        media_size=args.video_size,
        media_fps=args.fps,
        ssl_context=tls,
        media_impairment=args.impair,
    )
    async with emulator as emu:
        print(emu.base_url, flush=True)
        print(
            f"pexbot emulator: {len(config.conferences)} configured conference(s), "
            f"default_vmr={'on' if config.default_vmr else 'off'}, media={args.media}"
            + (f", impaired path {args.impair.describe()}" if args.impair else "")
            + "; "
            "Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
    return 0
