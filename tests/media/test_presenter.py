"""Presenter sources: slide decks, images, videos and tracks played as one presentation track."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame
from av_testmedia import make_media_file, pull

from media.analyser import luma_plane
from media.clock import PacedVideoTrack
from media.content import ContentCaps, FrameRateCap, fit_size
from media.errors import MediaError, SourceError
from media.pattern import find_codes
from media.presenter import PresentationPlaylist
from media.slides import (
    EmptyFolderError,
    ImageItem,
    MissingSourceError,
    TrackItem,
    UnreadableImageError,
    UnreadableMediaError,
    VideoItem,
    deck_items,
    items_from_paths,
)
from media.synthetic import PatternVideoSource, black_frame

RED = (220, 20, 20)
GREEN = (20, 200, 20)
BLUE = (20, 20, 220)


def make_png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> Path:
    width, height = size
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = rgb
    with av.open(str(path), "w") as out:
        stream = out.add_stream("png")
        stream.width, stream.height = width, height
        stream.pix_fmt = "rgb24"
        for packet in stream.encode(VideoFrame.from_ndarray(picture, format="rgb24")):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def colour_of(frame: VideoFrame) -> str:
    """red / green / blue for the test images, grey for the grey-level test clip."""
    mean = frame.to_ndarray(format="rgb24")[::8, ::8].reshape(-1, 3).mean(axis=0)
    if mean.max() - mean.min() < 40:
        return "grey"
    return ("red", "green", "blue")[int(mean.argmax())]


def runs(values: list[Any]) -> list[Any]:
    return [value for value, _ in itertools.groupby(values)]


async def collect(
    playlist: PresentationPlaylist,
    *,
    seconds: float | None = None,
    limit: float = 15.0,
) -> list[tuple[float, int | None, VideoFrame]]:
    """(seconds since the first recv, current index, frame) until ``ended`` or ``seconds``."""
    out: list[tuple[float, int | None, VideoFrame]] = []
    started = time.monotonic()

    async def run() -> None:
        while not playlist.ended.is_set():
            elapsed = time.monotonic() - started
            if seconds is not None and elapsed >= seconds:
                return
            frame = await playlist.track.recv()
            out.append((time.monotonic() - started, playlist.current_index, frame))

    await asyncio.wait_for(run(), limit)
    return out


async def test_deck_shows_images_in_name_order_for_their_time_then_holds_the_last(
    tmp_path: Path,
) -> None:
    deck = tmp_path / "deck"
    deck.mkdir()
    # numbered as slide exports are: slide10 comes last, not between slide1 and slide2
    make_png(deck / "slide10.png", BLUE)
    make_png(deck / "slide2.png", GREEN)
    make_png(deck / "Slide1.png", RED)
    (deck / "notes.txt").write_text("not a slide")
    playlist = PresentationPlaylist(deck_items(deck, seconds=0.5))
    assert [Path(item.label).name for item in playlist.items] == [
        "Slide1.png",
        "slide2.png",
        "slide10.png",
    ]

    frames = await collect(playlist)
    ended_after = frames[-1][0]
    later = await pull(playlist.track, 4)

    colours = [colour_of(f) for _, _, f in frames]
    assert runs(colours) == ["red", "green", "blue"], colours
    assert runs([index for _, index, _ in frames]) == [0, 1, 2]
    assert 1.3 < ended_after < 3.5
    times = [t for t, _, _ in frames]
    green, blue = times[colours.index("green")], times[colours.index("blue")]
    assert 0.35 < green < 1.2 and 0.3 < blue - green < 0.9, (green, blue)
    assert all(colours.count(c) >= 2 for c in ("red", "green", "blue"))  # 5 fps stills
    # once through: the last slide stays up, the track stays live
    assert [colour_of(f) for f in later] == ["blue"] * 4
    assert playlist.track.readyState == "live" and playlist.rounds_completed == 1

    await playlist.close()
    await playlist.close()
    assert playlist.track.readyState == "ended"
    with pytest.raises(MediaStreamError):
        await playlist.track.recv()


async def test_video_plays_once_in_real_time_at_the_content_rate_then_finishes(
    tmp_path: Path,
) -> None:
    clip = make_media_file(tmp_path / "clip.webm", seconds=1.0, fps=30)  # with audio: ignored
    playlist = PresentationPlaylist([VideoItem(clip)])
    frames = await collect(playlist)
    await asyncio.wait_for(playlist.finished(), 1)

    # the clip's frame i is grey level 8 i; at the default 15 fps every other one is sent
    # (a picture repeated while the decoder is late is a repeat, not a step back)
    levels = runs([int(luma_plane(f).mean()) for _, _, f in frames])
    steps = np.diff(levels)
    assert 12 <= len(levels) <= 16 and len(frames) <= 20, levels
    assert np.all(steps > 0) and 12 <= np.median(steps) <= 20, levels
    assert 0.8 < frames[-1][0] < 3.0
    assert {(f.width, f.height) for _, _, f in frames} == {(320, 240)}
    await playlist.close()
    assert not [t for t in threading.enumerate() if t.name == "file-source"]  # decoder joined


async def test_looping_playlist_of_image_video_and_folder_never_ends_and_keeps_pts_rising(
    tmp_path: Path,
) -> None:
    red = make_png(tmp_path / "red.png", RED)
    clip = make_media_file(tmp_path / "clip.webm", seconds=0.5, fps=30, audio=False)
    folder = tmp_path / "slides"
    folder.mkdir()
    make_png(folder / "a.png", GREEN)
    make_png(folder / "b.png", BLUE)
    playlist = await PresentationPlaylist.open([red, clip, folder], seconds=0.3, loop=True)
    assert [type(item) for item in playlist.items] == [ImageItem, VideoItem, ImageItem, ImageItem]

    frames = await collect(playlist, seconds=3.6)
    pts = [f.pts or 0 for _, _, f in frames]
    gaps = np.diff(pts) / 90000
    assert np.all(gaps > 0), pts
    assert gaps.max() < 0.6  # never a stall longer than the fill-in interval allows
    cycle = ["red", "grey", "green", "blue"]
    shown = runs([colour_of(f) for _, _, f in frames])
    assert len(shown) >= 8, shown  # two rounds at least
    assert shown == [cycle[i % 4] for i in range(len(shown))], shown
    assert runs([i for _, i, _ in frames])[:8] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert not playlist.ended.is_set() and playlist.rounds_completed >= 2
    assert playlist.track.readyState == "live"
    await playlist.close()
    assert playlist.ended.is_set()


def test_fit_size_scales_down_keeping_aspect_and_never_up() -> None:
    assert fit_size(3840, 2160, 1920, 1080) == (1920, 1080)
    assert fit_size(3000, 2000, 1920, 1080) == (1620, 1080)
    assert fit_size(1080, 1920, 1920, 1080) == (608, 1080)
    assert fit_size(101, 75, 1920, 1080) == (101, 75)
    with pytest.raises(ValueError):
        ContentCaps(max_width=1919)
    caps = ContentCaps()
    assert (caps.fps(None, caps.video_fps), caps.fps(100, 15), caps.fps(1, 15)) == (15, 30, 5)


async def test_big_and_odd_images_come_out_within_caps_even_and_in_aspect(tmp_path: Path) -> None:
    items = [
        ImageItem(make_png(tmp_path / "uhd.png", RED, (3840, 2160)), seconds=0.3),
        ImageItem(make_png(tmp_path / "photo.png", GREEN, (3000, 2000)), seconds=0.3),
        ImageItem(make_png(tmp_path / "tiny.png", BLUE, (101, 75)), seconds=0.3),
    ]
    playlist = PresentationPlaylist(items)
    frames = await collect(playlist)
    await playlist.close()
    shown = runs([(colour_of(f), f.width, f.height) for _, _, f in frames])
    assert shown == [("red", 1920, 1080), ("green", 1620, 1080), ("blue", 102, 76)]
    tiny = frames[-1][2].to_ndarray(format="rgb24")
    assert colour_of(frames[-1][2]) == "blue" and tiny[-1, -1, 2] > 150  # padded with the edge


async def test_video_is_scaled_to_custom_caps(tmp_path: Path) -> None:
    clip = make_media_file(tmp_path / "clip.webm", seconds=0.4, fps=30, audio=False)
    caps = ContentCaps(max_width=160, max_height=160)
    playlist = PresentationPlaylist([VideoItem(clip)], caps=caps)
    frames = await collect(playlist)
    await playlist.close()
    assert {(f.width, f.height) for _, _, f in frames} == {(160, 120)}


def test_frame_rate_cap_admits_the_capped_rate() -> None:
    def admitted(source_fps: float, cap_fps: float, seconds: float = 3.0) -> int:
        cap = FrameRateCap(cap_fps)
        return sum(cap.admit(i / source_fps) for i in range(round(seconds * source_fps)))

    assert admitted(30, 15) == 45
    assert 44 <= admitted(25, 15) <= 46
    assert 89 <= admitted(60, 30) <= 91
    assert admitted(10, 15) == 30  # slower content passes untouched


async def test_track_and_video_items_are_held_to_their_frame_rate(tmp_path: Path) -> None:
    source = PatternVideoSource(320, 240, fps=30)
    playlist = PresentationPlaylist([TrackItem(source, seconds=1.5, fps=10)])
    frames = await collect(playlist)
    await playlist.close()
    source.stop()
    numbers = [c.number for _, _, f in frames for c in find_codes(luma_plane(f))]
    assert 10 <= len(frames) <= 19, len(frames)
    assert np.median(np.diff(numbers)) == 3  # every third frame of the 30 fps source

    clip = make_media_file(tmp_path / "clip.webm", seconds=1.0, fps=30, audio=False)
    playlist = PresentationPlaylist([VideoItem(clip, fps=10)])
    frames = await collect(playlist)
    await playlist.close()
    assert 8 <= len(frames) <= 13, len(frames)

    fast = PatternVideoSource(320, 240, fps=60)
    playlist = PresentationPlaylist([TrackItem(fast, seconds=1.0, fps=100)])  # clamped to 30
    frames = await collect(playlist)
    await playlist.close()
    fast.stop()
    assert 20 <= len(frames) <= 36, len(frames)


async def test_stamped_codes_number_every_frame_sent_and_carry_its_time(tmp_path: Path) -> None:
    red = make_png(tmp_path / "red.png", RED, (640, 360))
    clip = make_media_file(tmp_path / "clip.webm", seconds=0.6, fps=30, audio=False)
    blue = make_png(tmp_path / "blue.png", BLUE, (1280, 720))
    items = [ImageItem(red, seconds=0.6), VideoItem(clip), ImageItem(blue, seconds=0.4)]
    playlist = PresentationPlaylist(items, stamp_codes=True)
    frames = [f for _, _, f in await collect(playlist)]
    frames += await pull(playlist.track, 3)  # the held last picture is numbered on
    await playlist.close()

    codes = [find_codes(luma_plane(f)) for f in frames]
    assert all(len(c) == 1 for c in codes), [len(c) for c in codes]
    numbers = [c[0].number for c in codes]
    assert numbers == list(range(len(frames)))
    stamps = np.array([c[0].timestamp_ms for c in codes], np.int64)
    pts_ms = np.array([f.pts for f in frames], np.int64) / 90
    assert np.all(np.abs((stamps - stamps[0]) - (pts_ms - pts_ms[0])) <= 2)
    assert 1.3 < (stamps[-1] - stamps[0]) / 1000 < 4.0
    for code, frame in zip(codes, frames, strict=True):  # bottom-right corner
        assert code[0].x > frame.width / 2 and code[0].y > frame.height / 2
    assert runs([colour_of(f) for f in frames]) == ["red", "grey", "blue"]


class FiniteVideo(PacedVideoTrack):
    def __init__(self, count: int) -> None:
        super().__init__(fps=15)
        self.count = count

    async def render(self, index: int, t: float) -> VideoFrame:
        if index >= self.count:
            self.stop()
            raise MediaStreamError
        return black_frame(320, 240)


async def test_track_items_play_until_they_end_or_for_their_seconds() -> None:
    made: list[MediaStreamTrack] = []

    def factory() -> MediaStreamTrack:
        made.append(PatternVideoSource(320, 240, fps=15))
        return made[-1]

    finite = FiniteVideo(5)
    playlist = PresentationPlaylist([TrackItem(finite), TrackItem(factory, seconds=0.5)], loop=True)
    frames = await collect(playlist, seconds=2.2)
    assert not playlist.ended.is_set() and playlist.rounds_completed >= 2
    await playlist.close()
    kinds = ["code" if find_codes(luma_plane(f)) else "black" for _, _, f in frames]
    # the application's track plays once (later rounds find it ended); factory tracks each round
    assert runs(kinds) == ["black", "code"] and 5 <= kinds.count("black") <= 7, kinds
    assert len(made) >= 2 and all(t.readyState == "ended" for t in made)

    # a round in which nothing could play stops a loop rather than spinning
    again = PresentationPlaylist([TrackItem(finite)], loop=True)
    await collect(again, limit=5)
    assert again.ended.is_set() and again.rounds_completed == 1
    await again.close()


async def test_bad_inputs_raise_typed_one_line_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not a png at all " * 64)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x01junk" * 200)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    only_text = tmp_path / "only_text"
    only_text.mkdir()
    (only_text / "readme.txt").write_text("x")
    sound = make_media_file(tmp_path / "sound.webm", seconds=0.2, video=False)

    cases: list[tuple[type[SourceError], Callable[[], object], str]] = [
        (MissingSourceError, lambda: ImageItem(tmp_path / "nope.png"), "nope.png"),
        (MissingSourceError, lambda: VideoItem(tmp_path / "nope.mp4"), "nope.mp4"),
        (MissingSourceError, lambda: deck_items(tmp_path / "nofolder"), "nofolder"),
        (MissingSourceError, lambda: items_from_paths([tmp_path / "gone.mkv"]), "gone.mkv"),
        (UnreadableImageError, lambda: ImageItem(garbage), "garbage.png"),
        (UnreadableImageError, lambda: items_from_paths([garbage]), "garbage.png"),
        (EmptyFolderError, lambda: deck_items(empty), "empty"),
        (EmptyFolderError, lambda: items_from_paths([only_text]), "only_text"),
        (UnreadableMediaError, lambda: VideoItem(broken), "broken.mp4"),
        (UnreadableMediaError, lambda: VideoItem(text), "notes.txt"),
        (UnreadableMediaError, lambda: VideoItem(sound), "no video"),
    ]
    for error, make, words in cases:
        with pytest.raises(error) as caught:
            make()
        message = str(caught.value)
        assert isinstance(caught.value, MediaError) and words in message, message
        assert "\n" not in message, message
    with pytest.raises(MissingSourceError):
        await PresentationPlaylist.open([tmp_path / "nope.png"])
    with pytest.raises(ValueError):
        PresentationPlaylist([])


async def test_close_cancelled_midway_still_releases_and_lets_the_cancellation_through() -> None:
    """A task cancelled while it closes the playlist must end cancelled (a close that ate the
    cancellation left a session's worker task running forever on shutdown), and the
    playlist is released all the same."""
    playlist = PresentationPlaylist([TrackItem(PatternVideoSource(320, 180, fps=10))], loop=True)
    await asyncio.wait_for(playlist.track.recv(), 10)  # playing: the player task is running
    closer = asyncio.ensure_future(playlist.close())
    await asyncio.sleep(0)  # the closer now waits for the player task to end
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    assert playlist.ended.is_set() and playlist.track.readyState == "ended"
