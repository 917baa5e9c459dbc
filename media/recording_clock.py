"""One recording clock for every track, and gap-padded audio placement. Pure: no I/O, fed ``now``.

aiortc's remote tracks stamp frames with RTP-derived pts that start at an arbitrary offset per
track and ignore RTCP sender reports, so pts alone cannot line audio up with video. Arrival time
can: frames that were in sync when they arrived go into the file in sync.

* ``t = 0`` is the arrival of the first frame of any track (:class:`RecordingClock`).
* Each track follows its own pts, shifted by an *offset* (``t = pts + offset``) first set so
  that the track's first frame lands at its arrival time (:class:`TrackTimeline`).
* A frame that arrives *earlier* than its place says moves the offset down to it: the first
  frame was late (a keyframe that took longer, a stalled loop, a backlog read in a burst), and
  the earliest arrival per pts is the best estimate of the true delay. This also covers a pts
  jump forward, which would otherwise place frames in the future.
* A frame more than ``jump`` seconds *later* than its place means pts jumped back (or the track
  stalled for that long): re-anchor at its arrival.

Known limit: a sender whose clock runs slow against ours drifts later until the ``jump``
threshold re-anchors it (50 ppm needs 5.5 hours for 1 s); both tracks of a sender drift alike.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

DEFAULT_JUMP = 1.0


class TrackTimeline:
    """Maps one track's pts (seconds) and arrival times onto the recording clock."""

    def __init__(self, *, jump: float = DEFAULT_JUMP) -> None:
        self._jump = jump
        self._offset: float | None = None
        self.reanchors = 0

    @property
    def offset(self) -> float | None:
        return self._offset

    def place(self, pts: float | None, arrival: float) -> float:
        """Recording-clock time of a frame with ``pts`` that arrived at ``arrival``."""
        if pts is None:
            return arrival
        candidate = arrival - pts
        if self._offset is None:
            self._offset = candidate
        elif candidate < self._offset:
            if self._offset - candidate > self._jump:
                self.reanchors += 1
            self._offset = candidate
        elif candidate - self._offset > self._jump:
            self.reanchors += 1
            self._offset = candidate
        return pts + self._offset


class RecordingClock:
    """``t = 0`` at the first frame of any track; one :class:`TrackTimeline` per track key."""

    def __init__(self, *, jump: float = DEFAULT_JUMP) -> None:
        self._jump = jump
        self._start: float | None = None
        self._tracks: dict[Hashable, TrackTimeline] = {}

    @property
    def start(self) -> float | None:
        """The ``now`` value that is ``t = 0``, or None before the first frame."""
        return self._start

    def elapsed(self, now: float) -> float:
        """Recording-clock time of ``now`` (0 before the first frame)."""
        return 0.0 if self._start is None else now - self._start

    def place(self, key: Hashable, pts: float | None, now: float) -> float:
        """Recording-clock time for a frame of track ``key`` arriving at ``now``."""
        if self._start is None:
            self._start = now
        timeline = self._tracks.get(key)
        if timeline is None:
            timeline = self._tracks[key] = TrackTimeline(jump=self._jump)
        return timeline.place(pts, now - self._start)

    def forget(self, key: Hashable) -> None:
        """Track ``key`` was replaced: its next frame anchors afresh at its arrival."""
        self._tracks.pop(key, None)

    def reanchors(self, key: Hashable) -> int:
        timeline = self._tracks.get(key)
        return 0 if timeline is None else timeline.reanchors


@dataclass(frozen=True)
class Placement:
    """Where a run of audio samples goes: it starts at sample ``position`` with ``silence``
    samples of silence, followed by the run minus its first ``skip`` samples."""

    position: int
    silence: int
    skip: int


class AudioPlacer:
    """Keeps one audio stream continuous in samples while following its target times.

    Audio is written back to back; the target position of each run (from the recording clock)
    only matters when it strays more than ``slack`` samples from where the stream has got to:
    a gap (lost packets, a muted sender, a re-anchor forward) is filled with silence, so the
    duration stays right; an overlap (a re-anchor back) cuts the overlapping samples.

    With ``start`` the stream begins there: silence fills exactly up to the first run, so that
    every stream of a file starts together (see ``media.recording_file``).
    """

    def __init__(self, slack: int, *, start: int | None = None) -> None:
        self._slack = slack
        self._next: int | None = start
        self._placed = False

    @property
    def next_position(self) -> int | None:
        """Sample position after everything placed so far."""
        return self._next

    def place(self, target: int, count: int) -> Placement:
        if self._next is None:
            self._next = target
        position = self._next
        gap = target - position
        slack = self._slack if self._placed else 0
        self._placed = True
        silence = gap if gap > slack else 0
        skip = min(count, -gap) if gap < -slack else 0
        self._next += silence + count - skip
        return Placement(position, silence, skip)
