"""Event ids: telling duplicates and gaps apart across reconnects (pure: no I/O, no clock).

What Pexip says about ids: every event may carry an SSE ``id``; the spec uses it only for
``presentation_frame`` (its id goes back in the JPEG request) and shows an opaque base64 string.
Every connection of the event stream starts with ``participant_sync_begin`` ... ``_end``, so a
client that reconnects re-learns the roster whatever it missed. The official client closes the
``EventSource`` on error and opens a new one, so it never sends ``Last-Event-ID`` and relies on
that sync alone.

We do what a WHATWG ``EventSource`` does (send the last id as ``Last-Event-ID``; a node that
ignores it loses nothing) and, when the ids are *sequence ids*, use them to check the stream:

- A sequence id is ``<stream>:<seq>``: ``stream`` names one logical event stream of one
  participant (no ``:`` in it), ``seq`` counts its events from 1. The emulator stamps these; a
  node may resume such a stream on reconnect by replaying what followed ``Last-Event-ID``.
  Base64 ids (what Infinity shows) never contain ``:``, so they are never mistaken for one.
- Same stream, ``seq`` not above the last one delivered: a **duplicate**; it is dropped.
- Same stream, ``seq`` more than one above: a **gap** (events were lost). It is counted and
  must be healed by a full roster re-sync (the reader reconnects without ``Last-Event-ID`` to
  get one); :attr:`StreamStats.gaps_healed` counts the gaps a later sync covered.
- Another stream: fine if its first event is ``participant_sync_begin`` (the node started
  afresh and re-syncs), a gap otherwise.
- Any other id (opaque, or none): delivered as it is; only the node's sync protects it.

:class:`EventIdTracker` makes those calls; :class:`StreamStats` holds the counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "EventIdTracker",
    "StreamStats",
    "Verdict",
    "format_stream_id",
    "parse_stream_id",
]

SYNC_BEGIN = "participant_sync_begin"
SYNC_END = "participant_sync_end"
_SEQUENCE_ID = re.compile(r"([^:\s]+):([1-9][0-9]{0,17})")


def format_stream_id(stream: str, seq: int) -> str:
    """The sequence id of event ``seq`` (from 1) of ``stream``."""
    if not stream or ":" in stream or any(c.isspace() for c in stream):
        raise ValueError(f"a stream name must be non-empty, without ':' or spaces: {stream!r}")
    if seq < 1:
        raise ValueError(f"sequence numbers start at 1 (got {seq})")
    return f"{stream}:{seq}"


def parse_stream_id(event_id: str) -> tuple[str, int] | None:
    """``(stream, seq)`` of a sequence id; None for any other id."""
    match = _SEQUENCE_ID.fullmatch(event_id)
    return None if match is None else (match[1], int(match[2]))


class Verdict(StrEnum):
    """What the tracker made of one event."""

    NEXT = "next"  # the event after the last one delivered
    FRESH = "fresh"  # first event of a new stream, which re-syncs
    DUPLICATE = "duplicate"  # delivered already: drop it
    GAP = "gap"  # events were lost before this one (deliver it; a re-sync must follow)
    UNNUMBERED = "unnumbered"  # no sequence id: nothing to check

    @property
    def deliver(self) -> bool:
        return self is not Verdict.DUPLICATE


@dataclass
class StreamStats:
    """Counters of one session's event stream, over every connection.

    ``resyncs`` counts full roster syncs (``participant_sync_end``, the first one included);
    ``replays`` counts reconnections the node resumed from ``Last-Event-ID`` instead.
    """

    connections: int = 0
    drops: int = 0
    resyncs: int = 0
    replays: int = 0
    duplicates_dropped: int = 0
    gaps: int = 0
    gaps_healed: int = 0
    #: reconnects we forced to get a re-sync after a gap
    resyncs_requested: int = 0

    @property
    def reconnects(self) -> int:
        return max(self.connections - 1, 0)

    @property
    def unhealed_gaps(self) -> int:
        return self.gaps - self.gaps_healed


class EventIdTracker:
    """Checks the ids of delivered events; see the module docstring. Feed it, in order,
    :meth:`connected` when a connection opens, :meth:`check` for every event it parses and
    :meth:`lost` when it ends."""

    def __init__(self, stats: StreamStats | None = None) -> None:
        self.stats = stats if stats is not None else StreamStats()
        self.stream: str | None = None
        self.seq = 0
        self._unhealed = 0  # gaps not yet covered by a sync
        self._healing = False  # a sync began after the last gap
        self._asked = False  # a re-sync was requested for the current gaps
        self._first_new = False  # the connection's first new event is still to come

    @property
    def position(self) -> str:
        """The sequence id of the last event delivered ('' before any)."""
        return "" if self.stream is None else format_stream_id(self.stream, self.seq)

    @property
    def wants_resync(self) -> bool:
        """A gap needs a re-sync and none is under way nor asked for yet."""
        return self._unhealed > 0 and not self._healing and not self._asked

    def resync_requested(self) -> None:
        """The caller is reconnecting without ``Last-Event-ID`` to get a sync. Asked once per
        run of gaps: a node that answers with another gap does not get us into a loop."""
        self._asked = True
        self.stats.resyncs_requested += 1

    def connected(self) -> None:
        self.stats.connections += 1
        self._first_new = self.stats.connections > 1

    def lost(self) -> None:
        self.stats.drops += 1
        self._healing = False  # a sync cut short heals nothing

    def check(self, name: str, event_id: str, *, has_id: bool = True) -> Verdict:
        """Judge one event (``has_id``: its block carried an ``id`` line of its own)."""
        parsed = parse_stream_id(event_id) if has_id else None
        if parsed is None:
            verdict = Verdict.UNNUMBERED
        else:
            verdict = self._judge(name, *parsed)
        if verdict is Verdict.DUPLICATE:
            self.stats.duplicates_dropped += 1
            return verdict
        if self._first_new:
            self._first_new = False
            if verdict is Verdict.NEXT:
                self.stats.replays += 1
        if verdict is Verdict.GAP:
            self.stats.gaps += 1
            self._unhealed += 1
            self._healing = False
        if name == SYNC_BEGIN and self._unhealed:
            self._healing = True
        elif name == SYNC_END:
            self.stats.resyncs += 1
            if self._healing:
                self.stats.gaps_healed += self._unhealed
                self._unhealed = 0
                self._healing = self._asked = False
        return verdict

    def _judge(self, name: str, stream: str, seq: int) -> Verdict:
        if stream == self.stream:
            if seq <= self.seq:
                return Verdict.DUPLICATE
            verdict = Verdict.NEXT if seq == self.seq + 1 else Verdict.GAP
        else:
            first_ever = self.stream is None
            verdict = Verdict.FRESH if name == SYNC_BEGIN or first_ever else Verdict.GAP
            self.stream = stream
        self.seq = seq
        return verdict
