"""Server-sent events: the WHATWG EventSource parsing rules, as pure code, plus a formatter.

The parser is fed the raw bytes of the event stream chunk by chunk, exactly as they come off the
socket, and hands back the events completed by each chunk. It follows the "interpreting an event
stream" section of the HTML standard:

- UTF-8 decoding is incremental (a multi-byte character may be split between chunks); invalid
  bytes decode to U+FFFD; one BOM at the very start of the stream is dropped.
- Lines end in CRLF, LF or CR. A CR that ends one chunk and an LF that starts the next are ONE
  line ending.
- ``:`` lines are comments. A line without a colon is a field with an empty value. One space
  after the colon is stripped, no more.
- ``data`` lines are joined with ``\\n``; an event whose data buffer is empty is not dispatched.
- ``id`` sets the last event id (ignored when it contains NUL); it persists across events, and
  each event carries the last event id current when it was dispatched.
- ``retry`` is honoured only when it is all ASCII digits.
- The default event name is ``message``. An event not ended by a blank line is never delivered.

No I/O here: :mod:`pexbot.events.stream` owns the socket.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from pexbot.errors import TransportError

__all__ = [
    "SseEvent",
    "SseParser",
    "SseStreamTooLarge",
    "format_comment",
    "format_event",
]

_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"
DEFAULT_MAX_BUFFER = 16 * 1024 * 1024


class SseStreamTooLarge(TransportError):
    """An unterminated line or event grew past the parser's bound: the stream is not SSE."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event.

    ``id`` is the stream's last event id when the event was dispatched (it persists across
    events). ``retry`` is the reconnection time in ms set by a ``retry`` field inside this
    event's own block, else None (the parser's ``retry_ms`` keeps the latest value for good).
    ``has_id`` tells whether this event's own block had an ``id`` line (``id`` may be one
    inherited from an earlier event): only an event's own id says anything about *it*.
    """

    event: str
    data: str
    id: str = ""
    retry: int | None = None
    has_id: bool = field(default=False, compare=False)


class SseParser:
    """Incremental WHATWG event-stream parser for one connection.

    ``last_event_id`` may be seeded from a previous connection, as EventSource does on
    reconnection. ``max_buffer`` bounds the characters held for one unfinished line plus the
    unfinished event's data; past it :class:`SseStreamTooLarge` is raised (the stream is broken,
    the caller drops the connection).
    """

    def __init__(self, *, last_event_id: str = "", max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.last_event_id: str = last_event_id
        self.retry_ms: int | None = None
        self._max_buffer = max_buffer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True
        self._skip_lf = False
        self._pending = ""
        self._data: list[str] = []
        self._data_len = 0
        self._event_type = ""
        self._id_buffer = last_event_id
        self._block_retry: int | None = None
        self._block_id = False

    def feed(self, chunk: bytes | str) -> list[SseEvent]:
        """Consume one chunk; return the events it completed, in order."""
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text.startswith(_BOM):
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        buffer = self._pending + text
        events: list[SseEvent] = []
        start = 0
        for match in _LINE_END.finditer(buffer):
            event = self._process_line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._pending = buffer[start:]
        # A CR at the very end may be the first half of a CRLF split across chunks.
        self._skip_lf = start > 0 and start == len(buffer) and buffer[start - 1] == "\r"
        if len(self._pending) + self._data_len > self._max_buffer:
            raise SseStreamTooLarge(
                f"event stream sent over {self._max_buffer} characters without ending an event"
            )
        return events

    def _process_line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._data_len += len(value) + 1
        elif field == "event":
            self._event_type = value
        elif field == "id":
            if "\0" not in value:
                self._id_buffer = value
                self._block_id = True
        elif field == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry_ms = int(value)
                self._block_retry = self.retry_ms
        return None

    def _dispatch(self) -> SseEvent | None:
        self.last_event_id = self._id_buffer
        data, event_type, retry = self._data, self._event_type, self._block_retry
        has_id, self._block_id = self._block_id, False
        self._data, self._data_len, self._event_type, self._block_retry = [], 0, "", None
        if not data:
            return None
        return SseEvent(
            event=event_type or "message",
            data="\n".join(data),
            id=self.last_event_id,
            retry=retry,
            has_id=has_id,
        )


def _check_single_line(what: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"SSE {what} must not contain CR or LF")


def format_event(
    event: str, data: str | None, id: str | None = None, *, retry: int | None = None
) -> bytes:
    """Encode one event for the wire.

    ``data=None`` is sent as ``data: null`` so the event is still dispatched (a WHATWG parser
    drops events with no data line) and reads as JSON ``null``; ``data=""`` sends an empty data
    line. Line breaks inside ``data`` become separate ``data`` lines, which the parser joins
    back with ``\\n``.
    """
    _check_single_line("event name", event)
    lines = [f"event: {event}"]
    if id is not None:
        _check_single_line("id", id)
        if "\0" in id:
            raise ValueError("SSE id must not contain NUL")
        lines.append(f"id: {id}")
    if retry is not None:
        if retry < 0:
            raise ValueError("SSE retry must be a non-negative number of milliseconds")
        lines.append(f"retry: {retry}")
    payload = "null" if data is None else data
    lines.extend(f"data: {part}" for part in _LINE_END.split(payload))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def format_comment(text: str = "") -> bytes:
    """A comment line (keep-alive); parsers ignore it."""
    _check_single_line("comment", text)
    return f": {text}\n\n".encode() if text else b":\n\n"
