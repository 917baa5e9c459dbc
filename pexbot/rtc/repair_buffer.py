"""One receiver's packets put back in order and repaired, then cut into frames (pure).

:class:`RepairBuffer` is what a recording wants of a receive path, without aiortc's per-packet
machinery around it (:mod:`.repair_fast` feeds it from the RTP shortcut). It is fed packets and
the time, and answers with whole frames in order:

- packets are kept by (extended) sequence number; a frame leaves as soon as its packets from the
  first to the marked one are all in (video), or at once (audio: a packet is a frame);
- a hole is *missing* from the moment a later packet shows it: :meth:`due_nacks` names it at
  once and again every ``nack_every`` seconds, ``nack_tries`` times at most (RFC 4585 generic
  NACK; audio is never NACKed, as in aiortc and libwebrtc);
- a hole is given up after ``max_wait`` seconds (video), or once ``audio_hold`` later packets
  are in (audio: what undoes the path's reordering and no more); the frame it fell in is
  dropped, never handed over half, the next frame is taken from its first packet, and
  :attr:`need_keyframe` is set (video);
- a frame is whole only from its first packet on (``starts``): a stream joined mid-frame, or a
  frame whose head was given up, is dropped and counted, never handed over.

A jump of more than ``capacity`` packets (a new source, a long outage) starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

#: seconds a video hole is waited for: a NACK round trip on a bad path, with retries
MAX_WAIT = 1.0
NACK_EVERY = 0.2
NACK_TRIES = 4
#: later audio packets that must be in before an audio hole is given up (aiortc holds 2 too)
AUDIO_HOLD = 2
CAPACITY = 2048
_EARLY = 64  # packets before the first one that still count as the stream's start


@dataclass(slots=True)
class _Held:
    timestamp: int
    marker: bool
    data: bytes
    starts: bool


@dataclass(slots=True)
class _Missing:
    seen_at: float
    tries: int = 0
    asked_at: float = -1e9


@dataclass(frozen=True, slots=True)
class BufferedFrame:
    timestamp: int
    data: bytes
    #: when the packet that completed it arrived
    completed_at: float


class RepairBuffer:
    """See the module docstring. ``data`` given to :meth:`add` is the depayloaded packet."""

    def __init__(
        self,
        *,
        audio: bool,
        max_wait: float = MAX_WAIT,
        nack_every: float = NACK_EVERY,
        nack_tries: int = NACK_TRIES,
        audio_hold: int = AUDIO_HOLD,
        capacity: int = CAPACITY,
    ) -> None:
        self.audio = audio
        self.max_wait = max_wait
        self.nack_every = nack_every
        self.nack_tries = nack_tries
        self.audio_hold = audio_hold
        self.capacity = capacity
        self._held: dict[int, _Held] = {}
        self._missing: dict[int, _Missing] = {}
        self._next: int | None = None  # extended sequence number of the next packet to take
        self._highest = 0
        self._skip_to_start = False
        self._taken = False  # anything handed over or dropped yet
        #: set when a frame was dropped: the reader asks for a keyframe and clears it
        self.need_keyframe = False
        self.frames = 0
        self.repaired = 0  # missing packets that came after all
        self.given_up = 0  # holes given up
        self.dropped_frames = 0  # frames not handed over (a hole given up, no head)
        self.late = 0  # packets behind what was handed over already, or seen twice
        self.resets = 0

    @property
    def missing(self) -> int:
        return len(self._missing)

    def add(
        self, seq: int, timestamp: int, marker: bool, data: bytes, starts: bool, now: float
    ) -> list[BufferedFrame]:
        """Take one packet (``seq`` as on the wire, 16 bits); the frames now whole, in order."""
        if self._next is None:
            self._start(seq)
        ext = self._extend(seq)
        assert self._next is not None
        if ext < self._next and not self._taken and self._next - ext <= _EARLY:
            # Nothing handed over yet and an earlier packet came: the stream starts there.
            if not self.audio:
                for lost in range(ext + 1, self._next):
                    self._missing[lost] = _Missing(now)
            self._next = ext
        if ext < self._next or ext in self._held:
            self.late += 1
            return self._release(now)
        if ext - self._next > self.capacity:
            self.resets += 1
            self._held.clear()
            self._missing.clear()
            self._start(seq)
            ext = self._next
            self.need_keyframe = not self.audio
        if ext > self._highest:
            if not self.audio:
                for lost in range(self._highest + 1, ext):
                    self._missing[lost] = _Missing(now)
            self._highest = ext
        elif self._missing.pop(ext, None) is not None:
            self.repaired += 1
        self._held[ext] = _Held(timestamp, marker, data, starts)
        return self._release(now)

    def due_nacks(self, now: float) -> list[int]:
        """Missing sequence numbers (16 bits) to NACK now; each counts as asked."""
        due: list[int] = []
        for ext, missing in self._missing.items():
            if missing.tries >= self.nack_tries or now - missing.asked_at < self.nack_every:
                continue
            missing.tries += 1
            missing.asked_at = now
            due.append(ext & 0xFFFF)
        return due

    # --- inside ------------------------------------------------------------------------------

    def _start(self, seq: int) -> None:
        self._next = seq + 0x10000  # room below for packets a little late
        self._highest = self._next - 1
        self._skip_to_start = False

    def _extend(self, seq: int) -> int:
        # the extended number nearest the highest seen (RFC 3550 A.1's wrap-around, both ways)
        base = self._highest
        return base + ((seq - base + 0x8000) & 0xFFFF) - 0x8000

    def _release(self, now: float) -> list[BufferedFrame]:
        out: list[BufferedFrame] = []
        held = self._held
        while True:
            n = self._next
            assert n is not None
            first = held.get(n)
            if first is None:
                if n > self._highest or not self._give_up(n, now):
                    return out
                continue
            if self._skip_to_start:
                if not first.starts:
                    del held[n]
                    self._next = n + 1
                    self._taken = True
                    continue
                self._skip_to_start = False
            if self.audio:
                del held[n]
                self._next = n + 1
                self._taken = True
                self.frames += 1
                out.append(BufferedFrame(first.timestamp, first.data, now))
                continue
            end = self._frame_end(n, first.timestamp)
            if end < 0:  # a packet of the frame is not here
                hole = -end
                if hole > self._highest or not self._give_up(hole, now):
                    return out
                continue
            parts = [held.pop(s).data for s in range(n, end)]
            self._next = end
            self._taken = True
            if first.starts:
                self.frames += 1
                out.append(BufferedFrame(first.timestamp, b"".join(parts), now))
            else:
                self.dropped_frames += 1
                self.need_keyframe = True

    def _frame_end(self, start: int, timestamp: int) -> int:
        """One past the frame's last packet, or minus the first sequence number missing."""
        held = self._held
        s = start
        while True:
            packet = held.get(s)
            if packet is None:
                return -s
            if packet.timestamp != timestamp:
                return s  # the next frame began without a marker: this one ended before
            if packet.marker:
                return s + 1
            s += 1

    def _give_up(self, hole: int, now: float) -> bool:
        """Whether the hole at ``hole`` is given up now (and then drop what it spoilt)."""
        if self.audio:
            later = sum(1 for s in self._held if s > hole)
            if later < self.audio_hold:
                return False
        else:
            missing = self._missing.get(hole)
            if missing is not None and now - missing.seen_at < self.max_wait:
                return False
        assert self._next is not None
        for s in range(self._next, hole):  # the frame the hole fell in, what came of it
            self._held.pop(s, None)
        for s in [s for s in self._missing if s <= hole]:
            del self._missing[s]
        self._next = hole + 1
        self._taken = True
        self.given_up += 1
        if not self.audio:
            self.dropped_frames += 1
            self.need_keyframe = True
            self._skip_to_start = True
        return True


__all__ = ["BufferedFrame", "RepairBuffer"]
