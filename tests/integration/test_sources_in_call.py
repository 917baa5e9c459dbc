"""Sources changing under a live call, over real HTTP and aiortc through the emulator:
d) a SwitchableVideoTrack swapped from one pattern to another mid-call;
e) a file (made here with av) looped three times."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame
from intkit import (
    ALICE_FIRST,
    FPS,
    SIZE,
    NumberedPattern,
    TrailAnalyser,
    coverage,
    feed,
    longest_gap,
    make_clip,
    media_emulator,
    strictly_increasing,
    wait_until,
)

from media import FileSource, SwitchableVideoTrack, ToneSpec
from pexbot import Session

SECOND_FIRST = 2_000_000  # pattern B's numbers
CLIP_FIRST = 3_000_000  # the file's numbers
CLIP_SECONDS = 2.0
CLIP_FPS = 15
TONE = ToneSpec(frequency=800.0, marker_frequency=1200.0)


class PtsTap(MediaStreamTrack):
    """Passes ``source``'s frames on, noting each frame's pts (and audio sample count)."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source
        self.seen: list[tuple[int, int]] = []  # (pts, samples; 0 for video)

    async def recv(self) -> AudioFrame | VideoFrame:
        frame = await self._source.recv()
        assert isinstance(frame, AudioFrame | VideoFrame) and frame.pts is not None
        samples = frame.samples if isinstance(frame, AudioFrame) else 0
        self.seen.append((frame.pts, samples))
        return frame


def from_range(first: int):  # type: ignore[no-untyped-def]
    return lambda n: first <= n < first + 500_000


async def test_swapping_the_video_source_mid_call() -> None:
    """d) The receiver sees A's numbers, then B's: each run strictly rising, never back to
    A, the track never ends, and the gap around the swap is short (measured and printed)."""
    switch = SwitchableVideoTrack(fps=FPS, width=SIZE[0], height=SIZE[1])
    pattern_a, pattern_b = NumberedPattern(ALICE_FIRST), NumberedPattern(SECOND_FIRST)
    switch.set_source(pattern_a)
    is_a, is_b = from_range(ALICE_FIRST), from_range(SECOND_FIRST)
    at_bob = TrailAnalyser()
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        call_b = await bob.call(on_track=feed(at_bob))
        call_a = await alice.call(video=switch)
        try:
            await wait_until(lambda: sum(map(is_a, at_bob.numbers())) >= 30, what="pattern A")
            swapped_at = time.monotonic()
            switch.set_source(pattern_b)
            await wait_until(lambda: sum(map(is_b, at_bob.numbers())) >= 30, what="pattern B")
            track_live = switch.readyState == "live" and all(
                t.receiver.track.readyState == "live"
                for t in call_b.pc.getTransceivers()
                if t.kind == "video" and t.receiver.track is not None
            )
            trail = at_bob.trail()
            arrivals = [t for t, _ in at_bob.pts["main"] if t >= swapped_at - 1.0]
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_bob.close()
            await switch.close()
            pattern_a.stop()
            pattern_b.stop()

    numbers = [r.number for r in trail if is_a(r.number) or is_b(r.number)]
    assert len(numbers) == len(trail), "numbers from neither pattern"
    first_b = next(i for i, n in enumerate(numbers) if is_b(n))
    part_a, part_b = numbers[:first_b], numbers[first_b:]
    assert part_a and all(map(is_a, part_a)) and all(map(is_b, part_b)), "back to A after B"
    assert strictly_increasing(part_a) and strictly_increasing(part_b)
    assert coverage(part_a)[2] >= 0.9 and coverage(part_b)[2] >= 0.9
    assert track_live, "a track ended"
    last_a = max(r.arrived for r in trail if is_a(r.number))
    first_b_at = min(r.arrived for r in trail if is_b(r.number))
    swap_gap = first_b_at - last_a
    frame_gap = longest_gap(arrivals)
    print(
        "swap:",
        json.dumps(
            {
                "last_a_to_first_b_s": round(swap_gap, 3),
                "longest_frame_gap_around_swap_s": round(frame_gap, 3),
                "swap_to_first_b_s": round(first_b_at - swapped_at, 3),
            }
        ),
    )
    assert swap_gap < 1.0
    assert frame_gap < 1.0


async def test_a_file_loops_three_times_through_a_call(tmp_path: Path) -> None:
    """e) A 2 s clip (pattern + tone) played three times: the sender's timestamps run on
    across the loop boundaries (video pts strictly rising with no step over two frames, audio
    contiguous) and the receiver reads the clip's numbers three times over, frames arriving
    without a long gap, and hears the tone."""
    clip = make_clip(
        tmp_path / "clip.mkv", seconds=CLIP_SECONDS, first=CLIP_FIRST, tone=TONE, fps=CLIP_FPS
    )
    source = FileSource(clip, loops=3, size=SIZE)
    assert source.audio is not None and source.video is not None
    video_tap, audio_tap = PtsTap(source.video), PtsTap(source.audio)
    at_bob = TrailAnalyser(tone=TONE)
    is_clip = from_range(CLIP_FIRST)
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        call_b = await bob.call(on_track=feed(at_bob))
        call_a = await alice.call(audio=audio_tap, video=video_tap)
        try:
            await wait_until(lambda: source.loops_completed == 3, what="three plays")
            await asyncio.sleep(0.5)  # the last frames on their way
            trail = at_bob.trail()
            report = at_bob.report().roles["main"]
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_bob.close()
            await source.close()

    # sender: continuous timestamps across the loops
    length = source.loop_starts[1]
    assert source.loop_starts == pytest.approx([0.0, length, 2 * length])
    assert length == pytest.approx(CLIP_SECONDS, abs=0.1)
    video_pts = [pts for pts, _ in video_tap.seen]
    assert strictly_increasing(video_pts)
    step = 90000 // CLIP_FPS
    assert max(b - a for a, b in itertools.pairwise(video_pts)) <= 2 * step
    assert len(video_pts) >= 3 * CLIP_SECONDS * CLIP_FPS * 0.9
    audio = audio_tap.seen
    # A gap in audio pts is allowed only where the track dropped a late chunk to keep sync (a
    # loaded machine); a loop boundary that restarts or skips the clock shows as an extra gap
    # or a step back.
    steps = [b[0] - (a[0] + a[1]) for a, b in itertools.pairwise(audio)]
    gaps = [s for s in steps if s != 0]
    assert all(s > 0 for s in gaps), f"audio pts stepped back: {sorted(gaps)[:5]}"
    assert len(gaps) <= source.audio.frames_dropped, (
        f"{len(gaps)} audio pts gaps, {source.audio.frames_dropped} chunks dropped"
    )
    assert source.audio.frames_dropped <= 0.05 * len(audio)
    assert audio[-1][0] + audio[-1][1] >= 3 * CLIP_SECONDS * 48000 * 0.98

    # receiver: the clip's numbers three times over, in order within each play
    numbers = [r.number for r in trail if is_clip(r.number)]
    plays = [[numbers[0]]]
    for a, b in itertools.pairwise(numbers):
        if b < a:
            plays.append([])
        plays[-1].append(b)
    per_play = round(CLIP_SECONDS * CLIP_FPS)
    assert len(plays) == 3, [(p[0], p[-1]) for p in plays]
    for play in plays[1:]:
        assert play[0] == CLIP_FIRST and strictly_increasing(play)
    assert sum(len(p) for p in plays) >= 0.9 * 3 * per_play
    clip_arrivals = [r.arrived for r in trail if is_clip(r.number)]
    assert report.audio is not None and report.audio.tone_fraction >= 0.7
    print(
        "file loops:",
        json.dumps(
            {
                "codes_read": len(numbers),
                "expected": 3 * per_play,
                "longest_gap_s": round(longest_gap(clip_arrivals), 3),
                "tone_fraction": report.audio.tone_fraction,
            }
        ),
    )
    assert longest_gap(clip_arrivals) < 1.0
