"""``events.jsonl`` of a recording: roster, chat and presentation events on the recording clock.

One JSON object per line::

    {"t": 12.345, "wall": "2026-01-01T12:00:12.345Z", "event": "participant_create", "data": {...}}

``t`` is seconds on the clock of the recorded files (``t = 0`` at their first frame; see
:mod:`media.recorder`), so an event lines up with the picture as it is. Events that come before
the first frame wait (bounded) until the clock has started, then get their (negative) ``t``;
if no frame ever came, they are written at the end with ``t: null``. ``wall`` is always there.

Secrets never reach the file: fields kept out of reprs (tokens, PINs) are left out here too.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from pexbot.events import Event, EventName, name_of
from pexbot.wire import Participant

log = logging.getLogger(__name__)

#: the events a recording keeps (roster, chat, presentation, and how the session ended)
LOGGED_EVENTS = frozenset(
    {
        EventName.PARTICIPANT_CREATE,
        EventName.PARTICIPANT_UPDATE,
        EventName.PARTICIPANT_DELETE,
        EventName.MESSAGE_RECEIVED,
        EventName.MESSAGE,
        EventName.PRESENTATION_START,
        EventName.PRESENTATION_STOP,
        EventName.PRESENTATION_ENDED,
        EventName.PRESENTATION_FRAME,
        EventName.SESSION_ENDED,
    }
)


def jsonable(value: Any) -> Any:
    """JSON-ready form of events and wire models, without the fields kept out of reprs."""
    if isinstance(value, BaseModel):
        hidden = {name for name, f in type(value).model_fields.items() if not f.repr}
        return value.model_dump(mode="json", exclude_none=True, exclude=hidden)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def wall_text(wall: float) -> str:
    return (
        datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class EventTimeline:
    """Pure: records stamped with (monotonic, wall) wait until ``t0`` (monotonic time of the
    recording clock's zero) is known, then come out with ``t``. At most ``limit`` wait; older
    ones are dropped first and counted."""

    def __init__(self, *, limit: int = 10_000) -> None:
        self._waiting: deque[tuple[float, float, dict[str, Any]]] = deque()
        self._limit = limit
        self.dropped = 0

    def add(self, record: dict[str, Any], *, mono: float, wall: float) -> None:
        if len(self._waiting) >= self._limit:
            self._waiting.popleft()
            self.dropped += 1
        self._waiting.append((mono, wall, record))

    def ready(self, t0: float | None, *, final: bool = False) -> list[dict[str, Any]]:
        """Records that can be written: all once ``t0`` is known (or ``final``), else none."""
        if t0 is None and not final:
            return []
        out = []
        while self._waiting:
            mono, wall, record = self._waiting.popleft()
            t = None if t0 is None else round(mono - t0, 3) + 0.0  # no "-0.0"
            out.append({"t": t, "wall": wall_text(wall), **record})
        return out


class EventLog:
    """Writes :class:`EventTimeline` records to ``path`` as they become ready.

    ``t0()`` returns the monotonic time of the recording clock's zero, or None before the
    first frame. Lines are flushed as written, so a killed process keeps what it logged.
    """

    def __init__(
        self,
        path: Path,
        t0: Callable[[], float | None],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._t0 = t0
        self._monotonic = monotonic
        self._wall = wall
        self._timeline = EventTimeline()
        self._file: TextIO | None = path.open("w", encoding="utf-8")
        self.written = 0

    def on_event(self, event: Event) -> None:
        """A session callback: logs the events of :data:`LOGGED_EVENTS`."""
        name = name_of(event)
        if name not in LOGGED_EVENTS:
            return
        self.note({"event": str(name), "data": jsonable(event)})

    def roster(self, participants: list[Participant]) -> None:
        """The roster when recording starts (the events then say what changed)."""
        self.note({"event": "roster", "participants": [jsonable(p) for p in participants]})

    def note(self, record: dict[str, Any], *, t: float | None = None) -> None:
        """Log one record of the job's own (``{"event": ..., ...}``); ``t``: when it happened
        on the recording clock, if not now (ignored before the clock has started)."""
        mono, wall = self._monotonic(), self._wall()
        t0 = self._t0()
        if t is not None and t0 is not None:
            wall -= mono - (t0 + t)
            mono = t0 + t
        self._timeline.add(record, mono=mono, wall=wall)
        self.flush()

    def flush(self, *, final: bool = False) -> None:
        if self._file is None:
            return
        for record in self._timeline.ready(self._t0(), final=final):
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
            self.written += 1
        self._file.flush()

    def close(self) -> None:
        """Write what waits (``t: null`` if the clock never started) and close. Idempotent."""
        if self._file is None:
            return
        try:
            self.flush(final=True)
            if self._timeline.dropped:
                log.warning("events.jsonl: %d early events dropped", self._timeline.dropped)
        finally:
            self._file.close()
            self._file = None
