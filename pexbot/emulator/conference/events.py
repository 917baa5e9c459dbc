"""Per-connection event queues and their fan-out.

Every open ``events`` stream owns one :class:`EventChannel`: a bounded queue of already-encoded
SSE frames. Overflow policy: a channel whose client cannot keep up (queue full) is *closed*,
not silently trimmed; the client reconnects and gets a fresh ``participant_sync``, so it never
holds a roster with holes in it. :class:`EventBus` maps participants to their channels and
keeps a bounded log of what was sent (for conformance tests).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pexbot.events.sse import format_event


@dataclass(frozen=True)
class SentEvent:
    """One event as delivered to one participant's streams (``emu.traffic.events``)."""

    participant_uuid: str
    event: str
    data: Any
    id: str | None = None


class ChannelClosed(Exception):
    """Internal marker: the stream must end now (disconnect, drop fault, overflow, shutdown)."""


_CLOSE = object()


class EventChannel:
    def __init__(self, participant_uuid: str, maxsize: int) -> None:
        self.participant_uuid = participant_uuid
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self.closed = False
        self.close_reason = ""

    def put(self, frame: bytes) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.close("event queue overflow")

    def close(self, reason: str) -> None:
        """End the stream after the frames already queued (they are still written)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        try:
            self._queue.put_nowait(_CLOSE)
        except asyncio.QueueFull:
            # Make room for the close marker: the stream is ending anyway.
            self._queue.get_nowait()
            self._queue.put_nowait(_CLOSE)

    async def get(self, wait: float) -> bytes | None:
        """The next frame; None after ``wait`` seconds without one. ChannelClosed at the end."""
        try:
            item = await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            return None
        if item is _CLOSE:
            raise ChannelClosed(self.close_reason)
        assert isinstance(item, bytes)
        return item


class EventBus:
    def __init__(self, *, queue_size: int, log_limit: int) -> None:
        self._queue_size = queue_size
        self._channels: dict[str, list[EventChannel]] = {}
        self.log: deque[SentEvent] = deque(maxlen=log_limit)

    def open(self, participant_uuid: str) -> EventChannel:
        channel = EventChannel(participant_uuid, self._queue_size)
        self._channels.setdefault(participant_uuid, []).append(channel)
        return channel

    def detach(self, channel: EventChannel) -> None:
        channels = self._channels.get(channel.participant_uuid)
        if channels and channel in channels:
            channels.remove(channel)
            if not channels:
                del self._channels[channel.participant_uuid]

    def send(self, participant_uuid: str, event: str, data: Any, *, id: str | None = None) -> None:
        """Queue an event for every open stream of the participant (none open: dropped)."""
        self.log.append(SentEvent(participant_uuid, event, data, id))
        frame = format_event(event, json.dumps(data), id)
        for channel in self._channels.get(participant_uuid, ()):
            channel.put(frame)

    def send_to(self, channel: EventChannel, event: str, data: Any) -> None:
        """Queue an event for one stream only (the initial sync of a new connection)."""
        self.log.append(SentEvent(channel.participant_uuid, event, data))
        channel.put(format_event(event, json.dumps(data)))

    def close_participant(self, participant_uuid: str, reason: str) -> int:
        channels = self._channels.get(participant_uuid, [])
        for channel in channels:
            channel.close(reason)
        return len(channels)

    def close_all(self, reason: str) -> int:
        count = 0
        for uuid in list(self._channels):
            count += self.close_participant(uuid, reason)
        return count

    def connected(self, participant_uuid: str) -> int:
        """How many streams the participant has open."""
        return sum(1 for c in self._channels.get(participant_uuid, ()) if not c.closed)

    def channels(self) -> Iterator[EventChannel]:
        for channels in self._channels.values():
            yield from channels
