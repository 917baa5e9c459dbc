"""Switchable tracks: swaps at any time, continuous timestamps, fill-in, never ending early."""

from __future__ import annotations

import asyncio
import fractions
import itertools
import time

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame
from av_testmedia import pull

from media.analyser import luma_plane
from media.clock import PacedVideoTrack
from media.errors import TrackStoppedError
from media.numpy_source import NumpyAudioSource
from media.pattern import find_codes
from media.switchable import SwitchableAudioTrack, SwitchableVideoTrack
from media.synthetic import PatternVideoSource, SilenceAudioSource, ToneAudioSource, black_frame
from media.tone import ToneDetector


class FiniteVideo(PacedVideoTrack):
    """Grey frames that end after ``count``."""

    def __init__(self, count: int, fps: float = 30.0) -> None:
        super().__init__(fps=fps)
        self.count = count

    async def render(self, index: int, t: float) -> VideoFrame:
        if index >= self.count:
            self.stop()
            raise MediaStreamError
        frame = black_frame(64, 36)
        frame.planes[0].update(bytes([128]) * frame.planes[0].buffer_size)
        return frame


def numbers_in(frame: VideoFrame) -> list[int]:
    return [c.number for c in find_codes(luma_plane(frame))]


async def test_video_swaps_keep_timestamps_rising_and_content_following_the_source() -> None:
    track = SwitchableVideoTrack(fps=30)
    first, second = PatternVideoSource(fps=30), PatternVideoSource(fps=30)
    track.set_source(first)
    frames = await pull(track, 20)
    track.set_source(None)
    frames += await pull(track, 10)
    track.set_source(second)
    frames += await pull(track, 20)
    await track.close()
    for source in (first, second):
        source.stop()

    pts = [f.pts for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts)), pts
    assert all(f.time_base == fractions.Fraction(1, 90000) for f in frames)
    # real time: 50 frames at 30 fps take about 1.67 s of stream time
    assert 1.2 < (pts[-1] - pts[0]) / 90000 < 2.5
    read = [numbers_in(f) for f in frames]
    first_numbers = [n[0] for n in read[:20]]
    assert first_numbers == list(range(first_numbers[0], first_numbers[0] + 20))
    assert any(
        not n and luma_plane(f).mean() < 20 for n, f in zip(read[20:30], frames[20:30], strict=True)
    )
    second_numbers = [n[0] for n in read[30:] if n]
    assert len(second_numbers) >= 18
    assert second_numbers[0] < 5  # the new source counts from its own start
    assert all(b == a + 1 for a, b in itertools.pairwise(second_numbers))


async def test_upstream_ending_falls_back_to_black_and_only_stop_ends_the_track() -> None:
    track = SwitchableVideoTrack(fps=30, width=64, height=36)
    upstream = FiniteVideo(5)
    track.set_source(upstream)
    frames = await pull(track, 25)
    assert upstream.readyState == "ended"
    grey = [round(float(luma_plane(f).mean())) for f in frames]
    assert grey[:5] == [128] * 5
    assert set(grey[6:]) == {16}  # black, not the last picture: the source is gone
    assert track.readyState == "live"
    track.stop()
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()
    await track.close()
    await track.close()
    with pytest.raises(TrackStoppedError, match="stopped"):
        track.set_source(PatternVideoSource())


async def test_faster_upstream_is_limited_to_the_configured_rate() -> None:
    track = SwitchableVideoTrack(fps=10)
    upstream = PatternVideoSource(fps=30)
    track.set_source(upstream)
    started = time.monotonic()
    frames = await pull(track, 15)
    elapsed = time.monotonic() - started
    await track.close()
    upstream.stop()
    assert 1.0 < elapsed < 3.0  # 15 frames at 10 fps
    numbers = [numbers_in(f)[0] for f in frames]
    assert all(b > a for a, b in itertools.pairwise(numbers))
    assert track.frames_dropped > 0


async def test_stalled_upstream_repeats_the_last_picture_every_hold() -> None:
    class Stalls(PacedVideoTrack):
        async def render(self, index: int, t: float) -> VideoFrame:
            if index >= 3:
                await asyncio.sleep(3600)
            return black_frame(64, 36)

    track = SwitchableVideoTrack(fps=30, hold=0.2)
    upstream = Stalls(fps=30)
    track.set_source(upstream)
    started = time.monotonic()
    frames = await pull(track, 8)
    elapsed = time.monotonic() - started
    await track.close()
    assert track.frames_filled == 5
    assert 0.8 < elapsed < 2.5  # 5 repeats, 0.2 s apart
    assert (frames[-1].width, frames[-1].height) == (64, 36)


async def test_audio_frames_stay_20_ms_and_contiguous_across_swaps_and_rates() -> None:
    track = SwitchableAudioTrack(layout="stereo")
    tone = ToneAudioSource(layout="mono")
    track.set_source(tone)
    frames = await pull(track, 60)
    track.set_source(None)
    frames += await pull(track, 10)

    phase = 0

    def cd_rate_tone(index: int, t: float) -> np.ndarray:
        nonlocal phase
        n = np.arange(phase, phase + 441)
        phase += 441
        wave = (np.sin(2 * np.pi * 1000 * n / 44100) * 8000).astype(np.int16)
        return np.stack([wave, wave], axis=1)

    other = NumpyAudioSource(cd_rate_tone, sample_rate=44100, channels=2, frame_seconds=0.01)
    track.set_source(other)
    frames += await pull(track, 40)
    await track.close()
    tone.stop()
    other.stop()

    assert all(isinstance(f, AudioFrame) for f in frames)
    assert {(f.samples, f.sample_rate, f.format.name, f.layout.name) for f in frames} == {
        (960, 48000, "s16", "stereo")
    }
    assert [f.pts for f in frames] == [960 * i for i in range(len(frames))]
    pcm = [f.to_ndarray().reshape(-1, 2) for f in frames]
    detector = ToneDetector()
    first = detector.feed(np.concatenate(pcm[5:60]))
    assert first.tone_blocks >= 0.95 * first.blocks
    # mono made stereo by duplication: the level is the source's -12 dBFS, not 3 dB less
    peak = np.abs(np.concatenate(pcm[5:60])).max()
    assert 20 * np.log10(peak / 32767) == pytest.approx(-12.0, abs=0.2)
    assert np.abs(np.concatenate(pcm[62:70])).max() == 0
    resampled = ToneDetector().feed(np.concatenate(pcm[-30:]))
    assert resampled.tone_blocks >= 0.9 * resampled.blocks


async def test_audio_fills_silence_in_real_time_without_a_source() -> None:
    track = SwitchableAudioTrack(layout="mono")
    started = time.monotonic()
    frames = await pull(track, 25)
    elapsed = time.monotonic() - started
    await track.close()
    assert 0.35 < elapsed < 1.5  # 25 x 20 ms
    assert all(f.layout.name == "mono" and f.samples == 960 for f in frames)
    assert track.samples_filled == 25 * 960


async def test_kind_mismatch_is_refused() -> None:
    video = SwitchableVideoTrack()
    with pytest.raises(ValueError, match="cannot take a audio source"):
        video.set_source(SilenceAudioSource())
    await video.close()
