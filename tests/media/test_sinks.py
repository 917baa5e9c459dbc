"""CallbackSink (sync and async callbacks, drops, errors) and DiscardSink."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import numpy as np
import numpy.typing as npt
import pytest
from av import AudioFrame
from rec_synth import BLOCK, RealTime, SynthAudio, SynthVideo, VirtualTime, wait_ended

from media.callback_sink import CallbackSink, audio_array
from media.discard import DiscardSink
from media.sink import Kind

Seen = list[tuple[str, Kind, npt.NDArray[np.generic], float | None, int]]


def number_from_rgb(array: npt.NDArray[np.generic]) -> int:
    value = 0
    for bit in range(12):
        x = 4 + bit * BLOCK + BLOCK // 2
        if int(array[4 + BLOCK // 2, x, 1]) > 128:
            value |= 1 << bit
    return value


async def run_tracks(
    sink: CallbackSink | DiscardSink, duration: float
) -> tuple[SynthVideo, SynthAudio]:
    clock = VirtualTime()
    video = SynthVideo(clock, clock.now(), duration=duration, pts_offset=9000)
    audio = SynthAudio(clock, clock.now(), duration=duration, pts_offset=480)
    sink.add_track(video)
    sink.add_track(audio, role="presentation")
    await wait_ended(video, audio)
    await sink.close()
    return video, audio


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_callback_gets_numpy_frames(mode: str) -> None:
    seen: Seen = []

    def record(role: str, kind: Kind, array: npt.NDArray[np.generic], pts: float | None) -> None:
        seen.append((role, kind, array, pts, threading.get_ident()))

    async def record_async(
        role: str, kind: Kind, array: npt.NDArray[np.generic], pts: float | None
    ) -> None:
        await asyncio.sleep(0)
        record(role, kind, array, pts)

    sink = CallbackSink(record if mode == "sync" else record_async, video_queue=1000)
    await run_tracks(sink, 1.0)

    videos = [s for s in seen if s[1] == "video"]
    audios = [s for s in seen if s[1] == "audio"]
    assert len(videos) == 30 and len(audios) == 50
    assert all(s[0] == "main" for s in videos) and all(s[0] == "presentation" for s in audios)
    assert videos[7][2].shape == (240, 320, 3) and videos[7][2].dtype == np.uint8
    assert [number_from_rgb(v[2]) for v in videos] == list(range(30))
    assert audios[0][2].shape == (960, 2) and audios[0][2].dtype == np.int16
    assert videos[3][3] == pytest.approx(0.1 + 3 / 30)  # pts 9000/90000 + frame 3
    assert audios[2][3] == pytest.approx(0.01 + 0.04)
    on_loop = {s[4] == threading.get_ident() for s in seen}
    assert on_loop == ({False} if mode == "sync" else {True})
    stats = sink.stats()
    assert stats[("main", "video")].delivered == 30
    assert stats[("presentation", "audio")].delivered == 50
    assert all(s.dropped == 0 and s.errors == 0 for s in stats.values())


async def max_loop_lag(until: asyncio.Future[None]) -> float:
    worst = 0.0
    while not until.done():
        before = time.monotonic()
        await asyncio.sleep(0.01)
        worst = max(worst, time.monotonic() - before - 0.01)
    return worst


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_slow_callback_drops_video_and_never_blocks_the_loop(mode: str) -> None:
    def slow(role: str, kind: Kind, array: npt.NDArray[np.generic], pts: float | None) -> None:
        if kind == "video":
            time.sleep(0.1)

    async def slow_async(
        role: str, kind: Kind, array: npt.NDArray[np.generic], pts: float | None
    ) -> None:
        if kind == "video":
            await asyncio.sleep(0.1)

    sink = CallbackSink(slow if mode == "sync" else slow_async)
    clock = RealTime()
    video = SynthVideo(clock, clock.now(), duration=1.5)
    audio = SynthAudio(clock, clock.now(), duration=1.5)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    lag = asyncio.create_task(max_loop_lag(done))
    sink.add_track(video)
    sink.add_track(audio)
    await wait_ended(video, audio)
    done.set_result(None)
    await sink.close()
    stats = sink.stats()
    v, a = stats[("main", "video")], stats[("main", "audio")]
    assert v.dropped > 10  # ~10 frames/s handled of 30 offered
    assert v.delivered + v.dropped == video.sent
    assert a.delivered == audio.sent and a.dropped == 0
    assert await lag < 0.25  # a blocked loop would lag by the callback's 0.1 s per frame


async def test_callback_errors_are_counted_and_logged_once_per_burst(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def flaky(role: str, kind: Kind, array: npt.NDArray[np.generic], pts: float | None) -> None:
        nonlocal calls
        calls += 1
        if 10 <= calls < 20 or 40 <= calls < 45:
            raise ValueError(f"bad frame {calls}")

    sink = CallbackSink(flaky, audio_queue=1000)
    caplog.set_level(logging.WARNING, logger="media.callback_sink")
    clock = VirtualTime()
    audio = SynthAudio(clock, clock.now(), duration=1.0)
    sink.add_track(audio)
    await wait_ended(audio)
    await sink.close()
    stats = sink.stats()[("main", "audio")]
    assert (stats.errors, stats.delivered) == (15, 35)
    failures = [r for r in caplog.records if r.message.startswith("frame callback failed")]
    recoveries = [r for r in caplog.records if "works again" in r.message]
    assert len(failures) == 2 and len(recoveries) == 2
    assert failures[0].exc_info is not None and "bad frame 10" in str(failures[0].exc_info[1])


def test_audio_array_formats() -> None:
    stereo = np.arange(960 * 2, dtype=np.int16).reshape(1, -1)
    frame = AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    array = audio_array(frame)
    assert array.shape == (960, 2) and array[1].tolist() == [2, 3]

    planar = np.stack([np.full(480, 0.5, np.float32), np.full(480, -0.25, np.float32)])
    frame = AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
    array = audio_array(frame)
    assert array.dtype == np.int16 and array[0].tolist() == [16384, -8192]

    mono = np.full((1, 160), 1 << 20, np.int32)
    array = audio_array(AudioFrame.from_ndarray(mono, format="s32", layout="mono"))
    assert array.shape == (160, 1) and array[0, 0] == 16


async def test_discard_sink_counts_per_role_and_kind() -> None:
    sink = DiscardSink()
    video, audio = await run_tracks(sink, 2.0)
    counts = sink.counts
    assert counts[("main", "video")].frames == video.sent == 60
    assert counts[("presentation", "audio")].frames == audio.sent == 100
    assert sink.frames("main") == 60 and sink.frames("presentation", "audio") == 100
    assert counts[("main", "video")].first_pts == pytest.approx(0.1)
    assert counts[("main", "video")].last_pts == pytest.approx(0.1 + 59 / 30)
    assert (counts[("main", "video")].width, counts[("main", "video")].height) == (320, 240)


async def test_discard_sink_wait_for() -> None:
    sink = DiscardSink()
    clock = RealTime()
    video = SynthVideo(clock, clock.now(), duration=5.0)
    sink.add_track(video)
    async with asyncio.timeout(10):
        assert await sink.wait_for(10, kind="video") >= 10
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await sink.wait_for(10, role="presentation")
    await sink.close()
    assert video.sent < 150
