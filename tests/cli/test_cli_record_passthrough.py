"""``pexbot record`` writes the received packets as they are by default: a subprocess against the
in-process emulator (forwarding, real HTTP, real aiortc), with a sender presenting. Killed with
SIGKILL mid-presentation, both files still open and decode, and each keeps all but the last 2 s
of what was sent (content tells: every picture carries its capture time). ``--transcode`` keeps
the decode/encode path (mp4 too); ``--container mp4`` without it is a one-line error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from clikit import assert_one_line_error, finish, pexbot, spawn

from media import MediaClock, PatternVideoSource, ToneAudioSource
from media.analyser import luma_plane
from media.analysis import wrap_diff
from media.clock import ms32
from media.pattern import find_codes
from pexbot import Session
from pexbot.cli import parse_command_line
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig

ALIAS = "meet"


@dataclass
class Kept:
    codecs: list[str]
    packets: dict[str, int]
    frames: dict[str, int]
    decode_errors: int
    last_capture_ms: float | None  # capture time (on the sender's clock) of the last picture


def decode(path: Path, start_wall_ms: float) -> Kept:
    """Every packet of a (possibly never finalised) file decoded; the last picture's capture."""
    base = ms32(start_wall_ms)
    kept = Kept([], {"audio": 0, "video": 0}, {"audio": 0, "video": 0}, 0, None)
    with av.open(str(path)) as container:
        kept.codecs = sorted(s.codec_context.name for s in container.streams)
        for packet in container.demux(*container.streams):
            if not packet.size:
                continue
            kind = packet.stream.type
            kept.packets[kind] += 1
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                kept.decode_errors += 1
                continue
            for frame in frames:
                kept.frames[kind] += 1
                if isinstance(frame, av.VideoFrame):
                    for code in find_codes(luma_plane(frame)):
                        shot = wrap_diff(code.timestamp_ms, base, 1 << 32)
                        kept.last_capture_ms = max(kept.last_capture_ms or shot, shot)
    return kept


@contextlib.asynccontextmanager
async def conference_with_sender(
    clock: MediaClock, media: str = "forward"
) -> AsyncIterator[tuple[str, object]]:
    """The emulator forwarding packets (VP8 as the sender sent it) or composing (its own H.264
    of a layout, as Infinity transcodes), and a sender of the pattern and tone in it."""
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[ALIAS])])
    if media == "forward":
        emulator = Emulator(config, media="forward")
    else:
        emulator = Emulator(config, media_size=(320, 180), media_fps=10)
    async with (
        emulator as emu,
        Session(emu.base_url, ALIAS, display_name="sender") as session,
    ):
        call = await session.call(
            audio=ToneAudioSource(clock=clock),
            video=PatternVideoSource(320, 180, fps=15, clock=clock),
        )
        yield emu.base_url, call


async def wait_for_file(path: Path, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(path.exists):
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("media", "codecs"),
    [("forward", ("vp8", "opus")), ("compose", ("h264", "opus"))],
    ids=["forwarded-vp8", "composed-h264"],
)
async def test_sigkilled_passthrough_record_keeps_main_and_presentation(
    tmp_path: Path, media: str, codecs: tuple[str, str]
) -> None:
    out = tmp_path / "rec"
    clock = MediaClock()
    async with conference_with_sender(clock, media) as (url, call):
        proc = await spawn("record", "--node", url, "--alias", ALIAS, "--out", str(out))
        try:
            await wait_for_file(out / "main.mkv")
            await asyncio.sleep(1.0)
            slides = PatternVideoSource(320, 180, fps=10, clock=clock)
            await call.start_presenting(slides)  # type: ignore[attr-defined]
            await wait_for_file(out / "presentation.mkv")
            await asyncio.sleep(2.5)
            proc.send_signal(signal.SIGKILL)
            killed_ms = time.time() * 1000 - clock.start_wall_ms
            done = await finish(proc, 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        slides.stop()
    assert done.code == -signal.SIGKILL
    main = await asyncio.to_thread(decode, out / "main.mkv", clock.start_wall_ms)
    shown = await asyncio.to_thread(decode, out / "presentation.mkv", clock.start_wall_ms)
    lost = {
        role: round((killed_ms - kept.last_capture_ms) / 1000, 2)
        for role, kept in (("main", main), ("presentation", shown))
        if kept.last_capture_ms is not None
    }
    figures = {"media": media, "lost_s": lost, "main": main.frames, "presentation": shown.frames}
    print("killed passthrough record:", json.dumps(figures))
    # passthrough: the codecs as received, undecoded
    assert main.codecs == sorted(codecs) and shown.codecs == [codecs[0]]
    assert main.decode_errors == 0 and shown.decode_errors == 0
    assert main.frames["video"] == main.packets["video"] > 15 * 2
    assert main.frames["audio"] == main.packets["audio"] > 50 * 2
    assert shown.frames["video"] == shown.packets["video"] > 10
    assert set(lost) == {"main", "presentation"}
    assert all(seconds <= 2.0 for seconds in lost.values())


async def test_transcode_keeps_the_decode_encode_path(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    clock = MediaClock()
    async with conference_with_sender(clock) as (url, _call):
        done = await pexbot(
            "record", "--node", url, "--alias", ALIAS, "--out", str(out),
            "--transcode", "--container", "mp4", "--duration", "3", "--json",
        )  # fmt: skip
    assert done.code == 0, done.stderr
    assert set(done.json()["files"]) == {"main"}
    kept = await asyncio.to_thread(decode, out / "main.mp4", clock.start_wall_ms)
    assert kept.codecs == ["aac", "h264"]  # re-encoded: AAC is nothing the call carried
    assert kept.decode_errors == 0 and kept.frames["video"] > 10


async def test_mp4_needs_transcode(tmp_path: Path) -> None:
    done = await pexbot("record", "--out", str(tmp_path / "r"), "--container", "mp4")
    assert_one_line_error(done, "--container mp4 needs --transcode")
    assert not (tmp_path / "r").exists()


def test_passthrough_is_the_default_and_transcode_the_option() -> None:
    def transcode(*argv: str, **env: str) -> bool:
        return bool(parse_command_line(["record", "--out", "x", *argv], env).transcode)

    assert not transcode()
    assert transcode("--transcode") and transcode(PEXBOT_TRANSCODE="1")
    assert not transcode("--passthrough")  # the old opt-in, still accepted
    assert not transcode("--passthrough", PEXBOT_TRANSCODE="1")  # the command line wins
