"""The analyser sink measured against sources whose truth is known, locally and through a real
aiortc peer-connection pair (VP8 + Opus on loopback)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack
from av import VideoFrame

import media.analyser as analyser_module
from media.analyser import Analyser
from media.analysis import AnalyserReport, ranges, wrap_diff
from media.clock import MediaClock, PacedVideoTrack
from media.numpy_source import NumpyVideoSource
from media.pattern import Code
from media.switchable import SwitchableAudioTrack, SwitchableVideoTrack
from media.synthetic import PatternRenderer, PatternVideoSource, ToneAudioSource


async def run(
    analyser: Analyser, tracks: Mapping[str, MediaStreamTrack], seconds: float
) -> AnalyserReport:
    for role, track in tracks.items():
        analyser.add_track(track, role=role.split(":")[0])
    await asyncio.sleep(seconds)
    report = analyser.report()
    await analyser.close()
    for track in tracks.values():
        track.stop()
    return report


async def test_pattern_at_15_fps_for_2_s() -> None:
    report = await run(Analyser(max_pending=8), {"main": PatternVideoSource(fps=15)}, 2.2)
    video = report.roles["main"].video
    assert video is not None
    assert 12 <= video.fps <= 18
    assert (video.width, video.height) == (640, 360)
    assert video.number_ranges == [(0, video.numbers_read - 1)]
    assert video.numbers_read >= 25 and video.numbers_missing == 0
    assert video.freezes == 0 and video.frames_not_analysed == 0
    assert video.latency is not None and 0 <= video.latency.median_ms < 100
    seconds = report.roles["main"].seconds
    assert [s.second for s in seconds[:2]] == [0, 1]
    assert 12 <= seconds[1].video_frames <= 18 and seconds[1].codes_read == seconds[1].video_frames


async def test_tone_and_pattern_from_one_clock_give_levels_markers_and_av_offset() -> None:
    clock = MediaClock()
    tracks = {
        "main:v": PatternVideoSource(fps=30, clock=clock),
        "main:a": ToneAudioSource(clock=clock),
        "presentation": PatternVideoSource(fps=5, width=320, height=180),
    }
    report = await run(Analyser(), tracks, 2.6)
    main = report.roles["main"]
    assert main.audio is not None and main.video is not None
    assert main.audio.level_dbfs == pytest.approx(-12.0, abs=0.3)
    assert main.audio.tone_fraction >= 0.95
    assert main.audio.markers >= 2
    assert main.audio.latency is not None and -5 < main.audio.latency.median_ms < 60
    assert main.av_offset_ms is not None and abs(main.av_offset_ms) < 40
    slides = report.roles["presentation"].video
    assert slides is not None and (slides.width, slides.height) == (320, 180)
    assert 3 <= slides.fps <= 7 and slides.numbers_missing == 0
    json.loads(report.model_dump_json())  # the snapshot is JSON as it stands
    assert AnalyserReport.model_validate_json(report.model_dump_json()) == report


async def test_identical_pictures_and_gaps_count_as_freezes() -> None:
    renderer = PatternRenderer(320, 180)

    def frozen_between_1_and_2_s(index: int, t: float) -> np.ndarray:
        number = index if not 1.0 <= t < 2.0 else 30
        return renderer.render(number, 0)

    class Pauses(PacedVideoTrack):
        async def render(self, index: int, t: float) -> VideoFrame:
            if index == 10:
                await asyncio.sleep(0.6)
            return VideoFrame.from_ndarray(renderer.render(index, 0), format="yuv420p")

    tracks = {"a": NumpyVideoSource(frozen_between_1_and_2_s, fps=30), "b": Pauses(fps=20)}
    report = await run(Analyser(freeze_ms=300), tracks, 2.5)
    frozen = report.roles["a"].video
    paused = report.roles["b"].video
    assert frozen is not None and paused is not None
    assert frozen.freezes == 1
    assert 800 < frozen.freeze_total_ms < 1300
    assert paused.freezes == 1
    assert 500 < paused.freeze_total_ms < 1000


async def test_a_slow_decoder_costs_analysed_frames_not_received_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow_find_codes(luma: np.ndarray) -> list[Code]:
        time.sleep(0.25)
        return []

    monkeypatch.setattr(analyser_module, "find_codes", slow_find_codes)
    report = await run(Analyser(max_pending=1), {"main": PatternVideoSource(fps=30)}, 1.5)
    video = report.roles["main"].video
    assert video is not None
    assert video.fps > 24  # pulling went on at full rate
    assert video.frames_not_analysed > 20
    assert 3 <= video.frames_analysed <= 8


def test_pure_helpers() -> None:
    assert ranges({5, 1, 2, 3, 7, 8}) == [(1, 3), (5, 5), (7, 8)]
    assert wrap_diff(5, (1 << 32) - 10, 1 << 32) == 15
    assert wrap_diff((1 << 32) - 10, 5, 1 << 32) == -15


async def test_end_to_end_through_aiortc_vp8_and_opus() -> None:
    config = RTCConfiguration(iceServers=[])
    sender, receiver = RTCPeerConnection(config), RTCPeerConnection(config)
    clock = MediaClock()
    pattern = PatternVideoSource(fps=30, clock=clock)
    tone = ToneAudioSource(clock=clock)
    video, audio = SwitchableVideoTrack(fps=30), SwitchableAudioTrack()
    video.set_source(pattern)
    audio.set_source(tone)
    sender.addTrack(audio)
    sender.addTrack(video)
    analyser = Analyser()
    receiver.on("track", lambda track: analyser.add_track(track, role="main"))
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        await asyncio.sleep(5.0)
        report = analyser.report()
    finally:
        await analyser.close()
        await sender.close()
        await receiver.close()
        await video.close()
        await audio.close()
        pattern.stop()
        tone.stop()
    main = report.roles["main"]
    assert main.video is not None and main.audio is not None
    assert main.video.fps > 20
    assert (main.video.width, main.video.height) == (640, 360)
    # every number read is one the source sent, and nearly all that arrived were read
    assert main.video.number_ranges[0][0] >= 0
    assert main.video.number_ranges[-1][1] <= pattern.frame_index
    analysed = main.video.frames_analysed
    assert main.video.frames_with_code >= 0.95 * analysed and analysed > 80
    assert main.video.latency is not None and 0 <= main.video.latency.median_ms < 500
    assert main.audio.tone_fraction > 0.9
    assert main.audio.markers >= 3
    assert main.audio.latency is not None and 0 <= main.audio.latency.median_ms < 500
    assert main.av_offset_ms is not None
