"""One logical event stream of a participant: sequence ids and the bounded replay log (pure).

Each event that goes onto a participant's stream is numbered ``<stream>:<seq>``
(:func:`pexbot.events.ids.format_stream_id`) and its encoded frame kept in a bounded log, so a
client that reconnects with ``Last-Event-ID`` can be sent exactly what it missed. The log can
replay only an unbroken run: if the id is of another stream, from the future, older than the
log reaches back, or events after it were lost (a fault), :meth:`ReplayLog.since` says no and
the node starts a new stream with a full ``participant_sync``.

``limit`` 0 keeps nothing: every reconnect re-syncs, which is what the spec describes.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from typing import Any

from pexbot.events.ids import format_stream_id, parse_stream_id
from pexbot.events.sse import format_event

__all__ = ["ReplayLog"]


class ReplayLog:
    """Numbers the events of one stream and keeps the last ``limit`` frames for replay."""

    def __init__(self, name: str, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"replay log limit must be >= 0 (got {limit})")
        self.name = name
        self.limit = limit
        self.seq = 0
        self._log: deque[tuple[int, bytes]] = deque(maxlen=limit)
        self._lose = 0
        #: events numbered but never sent (the ``lose_events`` fault)
        self.lost = 0

    @classmethod
    def numbered(
        cls, counter: itertools.count[int], participant_uuid: str, limit: int
    ) -> ReplayLog:
        """A stream named after the participant and a node-wide counter (names never repeat)."""
        return cls(f"{participant_uuid[:8]}.{next(counter)}", limit)

    def append(self, event: str, data: Any) -> tuple[str, bytes | None]:
        """Number one event; its id and frame (None: the event is lost, by fault)."""
        self.seq += 1
        event_id = format_stream_id(self.name, self.seq)
        if self._lose:
            self._lose -= 1
            self.lost += 1
            return event_id, None
        frame = format_event(event, json.dumps(data), event_id)
        self._log.append((self.seq, frame))
        return event_id, frame

    def lose_next(self, count: int) -> None:
        """Number the next ``count`` events but send and keep none of them (a gap)."""
        if count < 1:
            raise ValueError("lose_next needs count >= 1")
        self._lose += count

    def since(self, last_event_id: str, *, overlap: int = 0) -> list[bytes] | None:
        """The frames after ``last_event_id``, or None when this log cannot give all of them.
        ``overlap`` (a fault) also repeats up to that many frames the client had already."""
        parsed = parse_stream_id(last_event_id)
        if self.limit == 0 or parsed is None or parsed[0] != self.name:
            return None
        seq = parsed[1]
        if seq > self.seq:
            return None
        wanted = [(s, frame) for s, frame in self._log if s > seq]
        if [s for s, _ in wanted] != list(range(seq + 1, self.seq + 1)):
            return None  # fell out of the log, or lost
        again = [frame for s, frame in self._log if seq - overlap < s <= seq]
        return again + [frame for _, frame in wanted]

    def forget(self) -> None:
        """Lose the log for good (a fault, like a log that overflowed): no resume any more."""
        self._log.clear()
        self.limit = 0
        self._log = deque(maxlen=0)

    def __len__(self) -> int:
        return len(self._log)
