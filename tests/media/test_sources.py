"""Generated, still-image and numpy-callback sources: pacing, timestamps and content."""

from __future__ import annotations

import asyncio
import fractions
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from av import VideoFrame
from av_testmedia import pull

from media.analyser import luma_plane, pcm_of
from media.clock import MediaClock, Pacer, ms32
from media.errors import SourceError
from media.image_source import ImageVideoSource
from media.numpy_source import NumpyAudioSource, NumpyVideoSource
from media.pattern import find_codes
from media.synthetic import (
    BlackVideoSource,
    PatternRenderer,
    PatternVideoSource,
    SilenceAudioSource,
    ToneAudioSource,
)
from media.tone import ToneDetector


async def test_pattern_source_carries_rising_numbers_and_capture_times() -> None:
    source = PatternVideoSource(fps=30)
    started_ms = time.time() * 1000
    frames = await pull(source, 30)
    source.stop()
    codes = [find_codes(luma_plane(f)) for f in frames]
    assert all(len(c) == 1 for c in codes)
    assert [c[0].number for c in codes] == list(range(30))
    for frame, (code,) in zip(frames, codes, strict=True):
        assert frame.time_base == fractions.Fraction(1, 90000)
        assert frame.pts == round(code.number / 30 * 90000)
        expected = ms32(source.clock.wall_ms(frame.pts / 90000))
        assert abs(code.timestamp_ms - expected) <= 1
    # capture times are wall-clock: frame 29 was captured about 1 s after the start
    assert abs(codes[0][0].timestamp_ms - ms32(started_ms)) < 200
    assert 900 < codes[-1][0].timestamp_ms - codes[0][0].timestamp_ms < 1000


def test_pattern_moves_between_frames() -> None:
    renderer = PatternRenderer(640, 360)
    a, b = renderer.render(1, 0), renderer.render(2, 0)
    outside_code = np.ones((360, 640), bool)
    outside_code[renderer.code_y :, :] = False
    assert np.mean(a[:360][outside_code] != b[:360][outside_code]) > 0.02


async def test_sources_sharing_a_clock_share_capture_times() -> None:
    clock = MediaClock()
    video, audio = PatternVideoSource(fps=10, clock=clock), ToneAudioSource(clock=clock)
    frames, sound = await asyncio.gather(pull(video, 12), pull(audio, 60))
    video.stop()
    audio.stop()
    assert [f.pts for f in sound] == [960 * i for i in range(60)]
    assert {f.samples for f in sound} == {960}
    pcm = np.concatenate([pcm_of(f) for f in sound])
    found = ToneDetector().feed(pcm)
    assert found.tone_blocks == found.blocks
    first_code = find_codes(luma_plane(frames[0]))[0]
    assert abs(first_code.timestamp_ms - ms32(clock.start_wall_ms)) <= 1


async def test_black_and_silence() -> None:
    black, silence = BlackVideoSource(320, 180, fps=20), SilenceAudioSource(layout="stereo")
    started = time.monotonic()
    pictures, sound = await asyncio.gather(pull(black, 10), pull(silence, 25))
    elapsed = time.monotonic() - started
    black.stop()
    silence.stop()
    assert 0.4 < elapsed < 1.5
    assert all((f.width, f.height) == (320, 180) for f in pictures)
    assert all(int(luma_plane(f).max()) == 16 for f in pictures)
    assert all(f.layout.name == "stereo" and not f.to_ndarray().any() for f in sound)


async def test_still_image_is_letterboxed_and_repeated(tmp_path: Path) -> None:
    rgb = np.zeros((100, 400, 3), np.uint8)
    rgb[:, :200] = (255, 255, 255)
    path = tmp_path / "slide.png"
    VideoFrame.from_ndarray(rgb, format="rgb24").save(str(path))
    source = await ImageVideoSource.open(path, width=320, height=240, fps=10)
    started = time.monotonic()
    frames = await pull(source, 6)
    elapsed = time.monotonic() - started
    source.stop()
    assert 0.35 < elapsed < 1.5
    assert len({id(f) for f in frames}) == 6  # new frames, each with its own pts
    assert [f.pts for f in frames] == [9000 * i for i in range(6)]
    luma = luma_plane(frames[0])
    assert luma.shape == (240, 320)
    # 400x100 fitted into 320x240: 320x80, centred; left half white, right half black
    assert luma[:70].max() == 16 and luma[170:].max() == 16
    assert luma[85:155, 10:150].min() > 200 and luma[85:155, 170:310].max() < 40


def test_unreadable_image_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(SourceError, match=r"bad\.png"):
        ImageVideoSource(bad)


async def test_numpy_video_callbacks_sync_async_and_slow() -> None:
    calls: list[tuple[int, float]] = []
    threads: set[str] = set()

    def rgb(index: int, t: float) -> np.ndarray:
        calls.append((index, t))
        threads.add(threading.current_thread().name)
        if index >= 2:
            time.sleep(0.01)  # slow: moves to a thread after this call
        return np.full((90, 160, 3), index * 10, np.uint8)

    async def yuv(index: int, t: float) -> np.ndarray:
        await asyncio.sleep(0)
        return np.full((72 * 3 // 2, 128), 200, np.uint8)

    sync_source = NumpyVideoSource(rgb, fps=30)
    async_source = NumpyVideoSource(yuv, fps=30)
    frames, others = await asyncio.gather(pull(sync_source, 6), pull(async_source, 3))
    sync_source.stop()
    async_source.stop()
    assert [i for i, _ in calls] == list(range(6))
    assert [t for _, t in calls] == pytest.approx([i / 30 for i in range(6)])
    assert [int(f.to_ndarray(format="rgb24")[0, 0, 0]) for f in frames] == [0, 10, 20, 30, 40, 50]
    assert len(threads) == 2  # the event loop's thread, then a worker
    assert {(f.width, f.height, f.format.name) for f in others} == {(128, 72, "yuv420p")}


async def test_numpy_audio_and_bad_callback_output() -> None:
    def stereo(index: int, t: float) -> np.ndarray:
        return np.full((960, 2), index, np.int16)

    source = NumpyAudioSource(stereo, channels=2)
    frames = await pull(source, 3)
    source.stop()
    assert [int(pcm_of(f)[0, 1]) for f in frames] == [0, 1, 2]
    assert {f.layout.name for f in frames} == {"stereo"}

    wrong = NumpyAudioSource(lambda i, t: np.zeros(100, np.int16))
    with pytest.raises(SourceError, match="shape"):
        await wrong.recv()
    floats = NumpyVideoSource(lambda i, t: np.zeros((36, 64, 3), np.float32))
    with pytest.raises(SourceError, match="uint8"):
        await floats.recv()


def test_pacer_allows_one_frame_of_jitter_and_caps_the_rate() -> None:
    pacer = Pacer(0.1, tolerance=0.1)
    assert pacer.delay(0.0) == 0
    pacer.commit(0.0)
    assert pacer.delay(0.13) == 0  # a late frame goes at once
    pacer.commit(0.13)
    assert pacer.delay(0.2) == 0  # and the next on-time one is not held back by it
    pacer.commit(0.2)
    pacer.commit(0.2)  # a burst: two frames ahead of the rate (0.43), one of them tolerated
    assert pacer.delay(0.2) == pytest.approx(0.13)


def test_av_can_read_what_the_tests_write(tmp_path: Path) -> None:
    # guards the test fixtures themselves: png writing must work for the image test
    path = tmp_path / "x.png"
    VideoFrame.from_ndarray(np.zeros((8, 8, 3), np.uint8), format="rgb24").save(str(path))
    with av.open(str(path)) as container:
        assert next(container.decode(video=0)).width == 8
