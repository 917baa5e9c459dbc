"""``pexbot present`` as a subprocess: two generated images and a short generated clip against the
embedded default and against a separately started ``pexbot emulator`` (watched there by a
session in this process, which reads the frame numbers stamped into the presentation), a
looping presentation ended by ``--duration``, by SIGINT and by being taken over, and its one-line
errors."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from clikit import (
    PIN,
    Done,
    assert_one_line_error,
    emulator_process,
    finish,
    pexbot,
    read_line_with,
    spawn,
    traffic,
    write_config,
)

from media import PatternVideoSource
from media.analyser import luma_plane
from media.pattern import find_codes
from media.slides import ImageItem, VideoItem
from pexbot import Session
from pexbot.cli.present_cmd import item_line
from pexbot.jobs.present import PlayTracker

NOWHERE = "http://127.0.0.1:9"  # discard port: connection refused
WRONG_PIN = "564738291"
CLIP_FPS = 10
CLIP_FRAMES = 15  # 1.5 s


def write_png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (320, 180)) -> Path:
    width, height = size
    picture = np.zeros((height, width, 3), np.uint8)
    picture[...] = rgb
    picture[height // 4 : height // 2, width // 4 : width // 2] = 255  # not a flat picture
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def write_clip(path: Path, size: tuple[int, int] = (320, 180)) -> Path:
    """A VP8 clip of a moving gradient, CLIP_FRAMES at CLIP_FPS."""
    width, height = size
    xs = np.arange(width)[None, :]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        for i in range(CLIP_FRAMES):
            rgb = np.zeros((height, width, 3), np.uint8)
            rgb[..., 0] = (xs + 8 * i) % 256
            rgb[..., 2] = 90
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, fractions.Fraction(1, CLIP_FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def media_files(tmp_path: Path) -> list[str]:
    files = [
        write_png(tmp_path / "slide1.png", (200, 40, 40)),
        write_png(tmp_path / "slide2.png", (40, 160, 40)),
        write_clip(tmp_path / "clip.mkv"),
    ]
    return [str(f) for f in files]


def check_files_played(done: Done, files: list[str]) -> dict[str, Any]:
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    result: dict[str, Any] = done.json()
    assert result["ended"] == "finished", result
    assert result["errors"] == [] and result["rounds"] == 1
    items = result["items"]
    assert [i["label"] for i in items] == files
    assert [i["kind"] for i in items] == ["image", "image", "video"]
    assert [i["seconds"] for i in items] == [1.0, 1.0, None]
    at = [i["at"] for i in items]
    # each image is up for its second (a poll late at most), then the clip
    assert 0.8 <= at[1] - at[0] <= 2.5 and 0.8 <= at[2] - at[1] <= 2.5, at
    # 2 s of images at 5 fps and 1.5 s of clip at 10 fps: about 25 frames
    assert result["seconds"] >= 3.0 and 15 <= result["frames_sent"] <= 60, result
    return result


# -- against the embedded default ----------------------------------------------------------------


async def test_present_embedded_default_and_loop_duration(tmp_path: Path) -> None:
    files = media_files(tmp_path)
    once = await spawn("present", *files, "--slide-seconds", "1", "--json", "--stamp-codes")
    looping = await spawn(
        "present", files[0], files[2], "--slide-seconds", "0.5", "--loop", "--duration", "3"
    )
    assert looping.stdout is not None
    seen: list[str] = []
    await read_line_with(looping.stdout, "item 1/2: ", seen)
    first_item_at = time.monotonic()
    looped, played = await asyncio.gather(finish(looping, 60), finish(once, 60))
    lasted = time.monotonic() - first_item_at

    check_files_played(played, files)
    assert played.stderr.startswith("pexbot: no --node: joining 'demo'")

    assert looped.code == 0, looped.stderr
    assert "Traceback" not in looped.stderr
    lines = "".join(seen).splitlines() + looped.stdout.splitlines()
    # items come round again: the image, the clip, the image (round 2) ...
    assert "round 2: " in "\n".join(lines)
    last = lines[-1]
    assert last.startswith("presented ") and last.endswith("(duration)"), lines
    seconds = float(last.split()[1])
    assert 2.9 <= seconds <= 6.0, last  # 3 s, then the floor given back
    assert lasted < 3.0 + 10.0  # leaving is quick; ~3 s of presenting after the first item


# -- against a separate emulator, watched --------------------------------------------------------


class Watcher:
    """Reads the frame numbers stamped into the presentation it receives."""

    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.frames = 0
        self._tasks: list[asyncio.Task[None]] = []

    def on_track(self, role: str, track: MediaStreamTrack) -> None:
        if role == "presentation" and track.kind == "video":
            self._tasks.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames += 1
                if isinstance(frame, av.VideoFrame):
                    self.numbers += [c.number for c in find_codes(luma_plane(frame))]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def watching(url: str, alias: str) -> AsyncIterator[Watcher]:
    watcher = Watcher()
    try:
        async with Session(url, alias, display_name="watcher") as session:
            await session.call(on_track=watcher.on_track)
            yield watcher
    finally:
        await watcher.close()


def calls_of(records: list[dict[str, Any]], name: str) -> list[str]:
    """The last path segment of each POST by the participant called ``name``: those naming its
    uuid and, as the token is not recorded, the first release_token of its conference after
    it joined (the tests make sure nobody else released a token there before it left)."""
    joined, record = next(
        (i, r) for i, r in enumerate(records)
        if r["path"].endswith("/request_token") and r["request_json"]["display_name"] == name
    )  # fmt: skip
    uuid = record["response_json"]["result"]["participant_uuid"]
    release = record["path"].replace("/request_token", "/release_token")
    paths = [r["path"] for r in records[joined:] if r["method"] == "POST"]
    left = paths.index(release) if release in paths else len(paths)
    mine = [p for i, p in enumerate(paths) if uuid in p or i == left]
    return [p.rsplit("/", 1)[-1] for p in mine]


def releases(records: list[dict[str, Any]], alias: str) -> int:
    return sum(r["path"].endswith(f"/{alias}/release_token") for r in records)


async def test_present_separate_emulator_watched_sigint_taken_over(tmp_path: Path) -> None:
    files = media_files(tmp_path)
    conferences = [{"aliases": [alias]} for alias in ("meet", "other", "third")]
    config = write_config(tmp_path / "emu.json", conferences)
    async with emulator_process(config) as url:
        node = ("--node", url)
        async with watching(url, "meet") as watcher:
            played = await pexbot(
                "present", *node, "--alias", "meet", "--name", "presenter", *files,
                "--slide-seconds", "1", "--stamp-codes", "--json",
            )  # fmt: skip
            await asyncio.sleep(0.5)
        # then two looping presentations: one stopped by SIGINT ("other"), one taken over by
        # a participant presenting from this process ("third")
        looping = ("--loop", "--slide-seconds", "0.5", files[0])
        proc = await spawn("present", *node, "--alias", "other", "--name", "looper", *looping)
        overtaken = await spawn("present", *node, "--alias", "third", "--name", "first", *looping)
        assert proc.stdout is not None and overtaken.stdout is not None
        seen: list[str] = []
        async with Session(url, "third", display_name="taker") as taker:
            await taker.call()
            await read_line_with(overtaken.stdout, "item 1/1", seen)
            await taker.presentation.start(PatternVideoSource(320, 180, fps=5), close_source=True)
            await read_line_with(proc.stdout, "round 2", seen)
            proc.send_signal(signal.SIGINT)
            stopped, taken = await asyncio.gather(finish(proc, 30), finish(overtaken, 30))
            await taker.presentation.stop()
        records = await traffic(url)

    result = check_files_played(played, files)
    # the watcher got the presentation, its stamped frame numbers rising
    numbers = watcher.numbers
    assert len(numbers) >= 8, (watcher.frames, numbers)
    assert numbers == sorted(numbers) and len(set(numbers)) >= 8, numbers
    assert numbers[-1] < result["frames_sent"]

    assert releases(records, "meet") == 2  # the presenter's, then the watcher's
    presenter = calls_of(records, "presenter")
    assert presenter.count("take_floor") == 1 and presenter.count("release_floor") == 1
    take, release = presenter.index("take_floor"), presenter.index("release_floor")
    assert "update" in presenter[take:release]  # slides sendonly
    assert "update" in presenter[release:]  # slides inactive
    assert presenter[-1] == "release_token" and "disconnect" in presenter[release:]

    assert stopped.code == 0, stopped.stderr
    assert "SIGINT: stopping" in stopped.stderr and "Traceback" not in stopped.stderr
    assert stopped.stdout.splitlines()[-1].endswith("(signal)"), stopped.stdout
    assert releases(records, "other") == 1
    looper = calls_of(records, "looper")
    assert looper.index("take_floor") < looper.index("release_floor")
    assert looper[-1] == "release_token"

    assert taken.code == 0, taken.stderr
    assert taken.stdout.splitlines()[-1].endswith("(taken_over by taker)"), taken.stdout
    assert releases(records, "third") == 2  # the first presenter's, then the taker's
    first = calls_of(records, "first")
    # the floor given back as Pexip's client does when it is taken over
    assert first.index("take_floor") < first.index("release_floor")
    assert first[-1] == "release_token"


# -- errors --------------------------------------------------------------------------------------


async def test_present_errors_are_one_line(tmp_path: Path) -> None:
    image = str(write_png(tmp_path / "ok.png", (90, 90, 200)))
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not a picture\n")
    conferences = [
        {"aliases": ["guarded"], "host_pin": PIN, "guests_can_present": False},
    ]
    config = write_config(tmp_path / "emu.json", conferences)
    async with emulator_process(config) as url:
        guarded = ("--node", url, "--alias", "guarded")
        missing, unreadable, nowhere, wrong_pin, refused = await asyncio.gather(
            pexbot("present", image, str(tmp_path / "missing.mp4")),
            pexbot("present", str(not_an_image)),
            pexbot("present", "--node", NOWHERE, "--alias", "x", image),
            pexbot("present", *guarded, "--pin", WRONG_PIN, image),
            pexbot("present", *guarded, "--pin", "none", "--name", "guest", image),
        )
        records = await traffic(url)

    assert_one_line_error(missing, "missing.mp4", "does not exist")
    # files are checked before anything starts: no emulator, no join
    assert "no --node" not in missing.stderr and missing.stdout == ""
    assert_one_line_error(unreadable, "notes.png")
    assert_one_line_error(nowhere, "request_token", "127.0.0.1:9")
    assert_one_line_error(wrong_pin, "PIN was not accepted")
    assert WRONG_PIN not in wrong_pin.stdout + wrong_pin.stderr
    assert_one_line_error(refused, "floor was refused", "take_floor")
    assert refused.stdout == ""
    # the guest left cleanly: its token released after the refusal
    assert releases(records, "guarded") == 1  # the guest's (a wrong PIN gets no token)
    guest = calls_of(records, "guest")
    assert "take_floor" in guest and guest[-1] == "release_token"
    assert "release_floor" not in guest


# -- pure: which item came on screen --------------------------------------------------------------


def test_play_tracker_counts_plays_not_looks(tmp_path: Path) -> None:
    first = ImageItem(write_png(tmp_path / "a.png", (0, 0, 0)), seconds=2)
    second = ImageItem(write_png(tmp_path / "b.png", (9, 9, 9)), seconds=3)
    tracker = PlayTracker([first, second])
    looks = [
        (None, 0, False, 0.0),  # not started
        (0, 0, False, 0.1),
        (0, 0, False, 0.2),
        (1, 0, False, 2.1),
        (0, 1, False, 5.1),  # the next round switched in, counted in the same step
        (1, 1, False, 7.1),
        (1, 2, True, 10.1),  # over: the last round counted as it ends, no new play
    ]
    played = [p for look in looks if (p := tracker.observe(*look)) is not None]
    assert [(p.number, p.index, p.round, p.at) for p in played] == [
        (1, 0, 1, 0.1), (2, 1, 1, 2.1), (3, 0, 2, 5.1), (4, 1, 2, 7.1)
    ]  # fmt: skip
    assert tracker.played == played and played[1].seconds == 3 and played[1].kind == "image"
    assert item_line(played[2]).startswith("00:05 item 1/2, round 2: ")
    assert item_line(played[2]).endswith("a.png (image, 2 s)")


def test_play_tracker_one_item_looping(tmp_path: Path) -> None:
    tracker = PlayTracker([VideoItem(write_clip(tmp_path / "c.mkv"))])
    looks = [(0, 0, False, 0.5), (0, 0, False, 1.0), (0, 1, False, 1.6), (0, 2, False, 3.1)]
    played = [p for look in looks if (p := tracker.observe(*look)) is not None]
    assert [p.round for p in played] == [1, 2, 3]
    assert item_line(played[0]) == f"00:00 item 1/1: {tmp_path / 'c.mkv'} (video)"
