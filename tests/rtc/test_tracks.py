"""The long-lived outgoing tracks: switching, filler, mute, gate, stalls, one audio format."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame
from callkit import PatternVideo, ToneAudio, close_colour, read_pattern

from pexbot.emulator.media.cards import WaitingCard, is_waiting_card
from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack

RED = (220, 40, 40)
GREEN = (40, 200, 60)


class Finite(MediaStreamTrack):
    """Gives ``n`` frames of a source, then ends."""

    def __init__(self, source: MediaStreamTrack, n: int) -> None:
        super().__init__()
        self.kind = source.kind
        self.source, self.left = source, n

    async def recv(self) -> VideoFrame | AudioFrame:
        if self.left == 0:
            raise MediaStreamError
        self.left -= 1
        frame = await self.source.recv()
        assert isinstance(frame, VideoFrame | AudioFrame)
        return frame


class Slow(MediaStreamTrack):
    """A recv that takes ``delay`` seconds and must not be cancelled half-way."""

    kind = "video"

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.cancelled = 0
        self.delivered = 0

    async def recv(self) -> VideoFrame:
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.delivered += 1
        return await PatternVideo(GREEN).recv()


async def test_video_switches_sources_with_monotonic_time_and_card_filler() -> None:
    track = OutgoingVideoTrack(
        Finite(PatternVideo(RED, fps=50), 3), filler=WaitingCard(), size=(160, 90), fps=50
    )
    frames = [await track.recv() for _ in range(5)]
    assert [close_colour(read_pattern(f)[0], RED) for f in frames[:3]] == [True] * 3
    assert all(is_waiting_card(f) for f in frames[3:])  # source ended: the card
    track.set_source(PatternVideo(GREEN, fps=50))
    frames += [await track.recv() for _ in range(3)]
    assert close_colour(read_pattern(frames[-1])[0], GREEN)
    pts = [f.pts for f in frames if f.pts is not None]
    assert len(pts) == len(frames) and pts == sorted(pts) and len(set(pts)) == len(pts)
    assert (track.source_frames, track.filler_frames) == (6, 2)
    track.muted = True
    black = await track.recv()
    assert black.to_ndarray(format="rgb24").mean() < 30
    assert (black.width, black.height) == (320, 180)  # the source's size, not the filler's


async def test_gate_holds_frames_back() -> None:
    gate = asyncio.Event()
    track = OutgoingVideoTrack(PatternVideo(RED), gate=gate)
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.2)
    assert not pending.done()
    gate.set()
    frame = await asyncio.wait_for(pending, 5)
    assert close_colour(read_pattern(frame)[0], RED)


async def test_stalled_source_gets_filler_but_is_not_cancelled() -> None:
    slow = Slow(0.5)
    track = OutgoingVideoTrack(slow, size=(64, 36), stall_timeout=0.1)
    first = await track.recv()
    assert first.to_ndarray(format="rgb24").mean() < 30  # black filler while it stalls
    frames = [await track.recv() for _ in range(8)]
    assert slow.cancelled == 0 and slow.delivered >= 1
    assert any(close_colour(read_pattern(f)[0], GREEN) for f in frames if f.width == 320)
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_audio_is_one_format_whatever_the_source() -> None:
    track = OutgoingAudioTrack(Finite(ToneAudio(), 5))
    frames = [await track.recv() for _ in range(8)]
    assert {(f.format.name, f.layout.name, f.sample_rate) for f in frames} == {
        ("s16", "stereo", 48000)
    }
    assert [f.pts for f in frames] == [i * 960 for i in range(8)]
    loud = [np.abs(f.to_ndarray()).max() for f in frames]
    assert min(loud[:4]) > 1000 and max(loud[-2:]) == 0  # tone, then silence after the end
    track.set_source(ToneAudio())
    track.muted = True
    muted = await track.recv()
    assert np.abs(muted.to_ndarray()).max() == 0
    assert track.source_frames >= 6
