"""The recording clock and audio placement: pure, fed times."""

from __future__ import annotations

import pytest

from media.frame_queue import FrameQueue
from media.recording_clock import AudioPlacer, Placement, RecordingClock, TrackTimeline


def test_tracks_with_unrelated_pts_are_placed_by_arrival() -> None:
    clock = RecordingClock()
    # Video arrives first at now=100.0 with pts 5000 s; audio 0.3 s later with pts 12 s.
    assert clock.place("video", 5000.0, 100.0) == 0.0
    assert clock.place("audio", 12.0, 100.3) == pytest.approx(0.3)
    # Later frames follow their own pts, not their (jittery) arrival.
    assert clock.place("video", 5001.0, 101.07) == pytest.approx(1.0)
    assert clock.place("audio", 12.7, 101.02) == pytest.approx(1.0)
    assert clock.start == 100.0
    assert clock.elapsed(102.5) == pytest.approx(2.5)


def test_a_late_first_frame_is_corrected_by_an_earlier_arrival() -> None:
    timeline = TrackTimeline()
    assert timeline.place(10.0, 0.05) == pytest.approx(0.05)  # first frame 50 ms late
    assert timeline.place(10.1, 0.1) == pytest.approx(0.1)  # this one was on time
    assert timeline.place(10.2, 0.23) == pytest.approx(0.2)  # jitter does not move it back
    assert timeline.reanchors == 0


def test_pts_jumps_re_anchor_at_arrival() -> None:
    timeline = TrackTimeline(jump=1.0)
    timeline.place(0.0, 0.0)
    timeline.place(1.0, 1.0)
    # pts jumps back by 100 s (a restarted sender): placed at arrival, not 100 s earlier.
    assert timeline.place(-99.0, 2.0) == pytest.approx(2.0)
    assert timeline.place(-98.5, 2.5) == pytest.approx(2.5)
    # pts jumps forward by 50 s: placed at arrival, not in the future.
    assert timeline.place(-48.0, 3.0) == pytest.approx(3.0)
    assert timeline.reanchors == 2
    # Lateness below the threshold (a stalled loop) keeps the pts timeline.
    assert timeline.place(-47.0, 4.9) == pytest.approx(4.0)
    assert timeline.reanchors == 2


def test_a_replaced_track_anchors_afresh() -> None:
    clock = RecordingClock()
    clock.place("video", 50.0, 10.0)
    assert clock.place("video", 50.5, 10.5) == pytest.approx(0.5)
    clock.forget("video")
    # The new track's pts are 0.6 s "behind" the old one's: without forgetting, this frame
    # would be placed 0.6 s early (below the re-anchor threshold).
    assert clock.place("video", 50.4, 11.0) == pytest.approx(1.0)


def test_frames_without_pts_use_arrival() -> None:
    assert TrackTimeline().place(None, 3.25) == 3.25


def test_audio_placer_pads_gaps_and_cuts_overlaps() -> None:
    placer = AudioPlacer(slack=100, start=1000)
    assert placer.place(1500, 960) == Placement(1000, 500, 0)  # lead-in silence, exact
    assert placer.place(2460 + 50, 960) == Placement(2460, 0, 0)  # within slack: back to back
    assert placer.place(3420 + 5000, 960) == Placement(3420, 5000, 0)  # gap: silence
    assert placer.place(9380 - 300, 960) == Placement(9380, 0, 300)  # overlap: cut
    assert placer.place(0, 960) == Placement(10040, 0, 960)  # entirely in the past
    assert placer.next_position == 10040


def test_audio_placer_without_start_begins_at_first_target() -> None:
    placer = AudioPlacer(slack=10)
    assert placer.place(4800, 960) == Placement(4800, 0, 0)
    assert placer.next_position == 5760


def test_frame_queue_bounds_each_kind_and_keeps_order() -> None:
    queue: FrameQueue[int] = FrameQueue({"video": 2, "audio": 3})
    assert queue.put("video", 1) and queue.put("audio", 2) and queue.put("video", 3)
    assert not queue.put("video", 4)  # video full
    assert queue.put("audio", 5)  # audio has its own room
    assert queue.get(0) == ("video", 1)
    assert queue.put("video", 6)
    queue.close()
    assert not queue.put("audio", 7)
    assert [queue.get(0) for _ in range(5)] == [
        ("audio", 2),
        ("video", 3),
        ("audio", 5),
        ("video", 6),
        None,
    ]
    assert queue.exhausted


def test_frame_queue_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="video"):
        FrameQueue({"video": 0})
