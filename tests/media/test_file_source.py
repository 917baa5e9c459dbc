"""File source: real-time playback of av-made files, looping with continuous timestamps, A/V
sync, 48 kHz s16 audio, and ending cleanly."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av_testmedia import make_media_file, pull

from media.errors import SourceError
from media.file_source import FileSource
from media.switchable import SwitchableVideoTrack
from media.tone import ToneDetector


async def timed_pull(track: MediaStreamTrack, started: float) -> list[tuple[float, Any]]:
    """(seconds since ``started`` when recv returned, frame) until the track ends."""
    out: list[tuple[float, Any]] = []
    while True:
        try:
            frame = await asyncio.wait_for(track.recv(), 10)
        except MediaStreamError:
            return out
        out.append((time.monotonic() - started, frame))


async def test_loops_three_times_with_continuous_timestamps_in_sync(tmp_path: Path) -> None:
    path = make_media_file(tmp_path / "clip.webm", seconds=1.0, fps=30)
    loops_seen: list[int] = []
    source = FileSource(path, loops=3, on_loop=loops_seen.append)
    assert source.audio is not None and source.video is not None
    started = time.monotonic()
    video, audio = await asyncio.gather(
        timed_pull(source.video, started), timed_pull(source.audio, started)
    )
    elapsed = time.monotonic() - started
    await source.close()

    assert loops_seen == [1, 2, 3] and source.loops_completed == 3
    assert 2.7 < elapsed < 5.0  # real time, not as fast as possible
    assert len(video) == 90
    assert source.video.readyState == "ended" and source.audio.readyState == "ended"

    # video: pts step by one frame everywhere, loop joins included; each loop restarts the clip
    pts = np.array([f.pts for _, f in video])
    assert np.all(np.abs(np.diff(pts) - 3000) <= 300), np.diff(pts)
    levels = [int(f.to_ndarray(format="gray").mean() + 0.5) for _, f in video]
    assert levels[0:30] == levels[30:60] == levels[60:90]
    assert source.video.last_pts == pts[-1]
    assert source.loop_starts == pytest.approx([0.0, pts[30] / 90000, pts[60] / 90000], abs=0.03)

    # audio: 48 kHz s16, each frame starting where the previous ended (to within 20 ms)
    frames = [f for _, f in audio]
    assert {(f.sample_rate, f.format.name, f.layout.name) for f in frames} == {
        (48000, "s16", "stereo")
    }
    apts = np.array([f.pts for f in frames])
    ends = apts[:-1] + np.array([f.samples for f in frames[:-1]])
    assert np.all(apts[1:] - ends >= -1) and np.all(apts[1:] - ends <= 960)
    assert 2.9 * 48000 < sum(f.samples for f in frames) < 3.1 * 48000

    # the clip's tone marks each loop start: found at 1 s and 2 s of output audio
    pcm = np.concatenate([f.to_ndarray().reshape(-1, 2) for f in frames])
    markers = ToneDetector().feed(pcm).markers
    assert len(markers) == 2
    assert np.abs(np.array(markers) / 48000 - [1.0, 2.0]).max() < 0.02

    # in sync: a frame is released when the shared clock reaches its pts, for both kinds
    video_lag = np.median([t - f.pts / 90000 for t, f in video])
    audio_lag = np.median([t - f.pts / 48000 for t, f in audio])
    assert abs(video_lag - audio_lag) < 0.05


async def test_audio_only_and_video_only_files(tmp_path: Path) -> None:
    audio_only = FileSource(
        make_media_file(tmp_path / "a.webm", video=False, seconds=0.5), audio_layout="mono"
    )
    video_only = FileSource(make_media_file(tmp_path / "v.webm", audio=False, seconds=0.5))
    assert audio_only.video is None and audio_only.audio is not None
    assert video_only.audio is None and video_only.video is not None
    sound, pictures = await asyncio.gather(pull(audio_only.audio), pull(video_only.video))
    await audio_only.close()
    await video_only.close()
    assert {f.layout.name for f in sound} == {"mono"}
    assert 0.45 * 48000 < sum(f.samples for f in sound) < 0.56 * 48000
    assert len(pictures) == 15


async def test_missing_or_unreadable_files_raise_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot open"):
        FileSource(tmp_path / "nope.webm")
    junk = tmp_path / "junk.webm"
    junk.write_bytes(b"not media at all" * 10)
    with pytest.raises(SourceError):
        await FileSource.open(junk)
    with pytest.raises(ValueError, match="loops"):
        FileSource(tmp_path / "nope.webm", loop=True, loops=2)


async def test_close_mid_play_ends_tracks_and_a_switchable_hides_the_end(tmp_path: Path) -> None:
    path = make_media_file(tmp_path / "clip.webm", seconds=1.0, fps=30)
    source = await FileSource.open(path, loop=True)
    assert source.video is not None
    front = SwitchableVideoTrack(fps=30, width=320, height=240)
    front.set_source(source.video)
    frames = await pull(front, 40)  # past the first loop
    assert source.loops_completed >= 1
    started = time.monotonic()
    await source.close()
    await source.close()
    assert time.monotonic() - started < 2.0
    with pytest.raises(MediaStreamError):
        await source.video.recv()
    frames += await pull(front, 10)  # the sender's track lives on, in black
    assert front.readyState == "live"
    assert frames[-1].to_ndarray(format="gray").mean() < 20
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))
    await front.close()


async def test_a_reader_that_starts_late_catches_up_in_sync(tmp_path: Path) -> None:
    path = make_media_file(tmp_path / "clip.webm", seconds=1.0, fps=30)
    source = FileSource(path, loops=2)
    assert source.audio is not None and source.video is not None
    started = time.monotonic()
    video_task = asyncio.create_task(timed_pull(source.video, started))
    await asyncio.sleep(0.8)
    audio = await timed_pull(source.audio, started)
    video = await video_task
    await source.close()
    assert source.audio.frames_dropped > 0
    first_time, first = audio[0]
    assert first_time - first.pts / 48000 < 0.3  # skipped what was already late
    audio_lag = np.median([t - f.pts / 48000 for t, f in audio])
    video_lag = np.median([t - f.pts / 90000 for t, f in video])
    assert abs(audio_lag - video_lag) < 0.05
