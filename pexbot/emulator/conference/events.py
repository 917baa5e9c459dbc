"""Per-connection event queues, the participant's logical streams, and their fan-out.

Every open ``events`` connection owns one :class:`EventChannel`: a bounded queue of
already-encoded SSE frames. Overflow policy: a channel whose client cannot keep up (queue full)
is *closed*, not silently trimmed; the client reconnects and is either replayed what it missed
or sent a fresh ``participant_sync``, so it never holds a roster with holes in it.

Each channel carries one logical stream of its participant (a :class:`~.replay.ReplayLog`):
every event is numbered on it (SSE ``id: <stream>:<seq>``) and kept for replay. A connection
that comes with a ``Last-Event-ID`` the participant's stream can continue gets the frames after
it and carries on that stream (no re-sync); any other connection starts a new stream, whose
first events are the full sync (:mod:`.room_events`). A participant's newest stream keeps
logging while no connection is open (that is what a reconnect replays); older ones are dropped
once their last connection closes. ``replay_limit`` 0 (the default) keeps no log: every
reconnect re-syncs, as the spec describes.

:class:`EventBus` maps participants to their channels and streams and keeps a bounded log of
what was sent (for conformance tests).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .replay import ReplayLog


@dataclass(frozen=True)
class SentEvent:
    """One event as delivered to one participant's streams (``emu.traffic.events``)."""

    participant_uuid: str
    event: str
    data: Any
    #: the SSE id it went out with (the newest stream's); the caller's id when none is open
    id: str | None = None


class ChannelClosed(Exception):
    """Internal marker: the stream must end now (disconnect, drop fault, overflow, shutdown)."""


_CLOSE = object()


class EventChannel:
    def __init__(
        self, participant_uuid: str, maxsize: int, stream: ReplayLog | None = None
    ) -> None:
        self.participant_uuid = participant_uuid
        self.stream = stream if stream is not None else ReplayLog(participant_uuid[:8], 0)
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
    def __init__(self, *, queue_size: int, log_limit: int, replay_limit: int = 0) -> None:
        self._queue_size = queue_size
        self.replay_limit = replay_limit
        self._channels: dict[str, list[EventChannel]] = {}
        #: each participant's logical streams, newest last
        self._streams: dict[str, list[ReplayLog]] = {}
        self._names = itertools.count(1)
        self.log: deque[SentEvent] = deque(maxlen=log_limit)
        #: connections opened; of them, resumed from Last-Event-ID; with an id that could not
        #: be resumed (so re-synced); frames replayed in all
        self.opened = 0
        self.resumed = 0
        self.refused = 0
        self.frames_replayed = 0
        #: fault injection: the next resume also repeats this many frames already delivered
        self.replay_overlap = 0

    def open(self, participant_uuid: str, last_event_id: str = "") -> tuple[EventChannel, bool]:
        """A channel for a new connection, and whether it resumes a stream (the frames after
        ``last_event_id`` are queued on it already; else it starts a new, empty stream)."""
        self.opened += 1
        streams = self._streams.setdefault(participant_uuid, [])
        if last_event_id:
            for stream in reversed(streams):
                frames = stream.since(last_event_id, overlap=self.replay_overlap)
                # A replay that would overflow the queue would only be cut off again.
                if frames is not None and len(frames) <= self._queue_size // 2:
                    channel = self._attach(participant_uuid, stream)
                    for frame in frames:
                        channel.put(frame)
                    self.replay_overlap = 0
                    self.resumed += 1
                    self.frames_replayed += len(frames)
                    return channel, True
            self.refused += 1
        stream = ReplayLog.numbered(self._names, participant_uuid, self.replay_limit)
        streams.append(stream)
        channel = self._attach(participant_uuid, stream)
        self._prune(participant_uuid)
        return channel, False

    def _attach(self, participant_uuid: str, stream: ReplayLog) -> EventChannel:
        channel = EventChannel(participant_uuid, self._queue_size, stream)
        self._channels.setdefault(participant_uuid, []).append(channel)
        return channel

    def _prune(self, participant_uuid: str) -> None:
        """Keep the newest stream, and older ones only while a connection carries them."""
        streams = self._streams.get(participant_uuid)
        if not streams:
            return
        carried = {id(c.stream) for c in self._channels.get(participant_uuid, ())}
        streams[:-1] = [s for s in streams[:-1] if id(s) in carried]

    def detach(self, channel: EventChannel) -> None:
        channels = self._channels.get(channel.participant_uuid)
        if channels and channel in channels:
            channels.remove(channel)
            if not channels:
                del self._channels[channel.participant_uuid]
        self._prune(channel.participant_uuid)

    def send(self, participant_uuid: str, event: str, data: Any, *, id: str | None = None) -> None:
        """Number the event on every stream of the participant and queue it for their open
        connections (no stream: dropped). Every event carries its stream id; ``id`` (the
        presentation frame's) is only logged when there is no stream to number it."""
        sent_id = id
        for stream in self._streams.get(participant_uuid, ()):
            sent_id = self._emit(participant_uuid, stream, event, data)
        self.log.append(SentEvent(participant_uuid, event, data, sent_id))

    def send_to(self, channel: EventChannel, event: str, data: Any) -> None:
        """Queue an event for one stream only (the initial sync of a new connection)."""
        event_id = self._emit(channel.participant_uuid, channel.stream, event, data)
        self.log.append(SentEvent(channel.participant_uuid, event, data, event_id))

    def _emit(self, participant_uuid: str, stream: ReplayLog, event: str, data: Any) -> str:
        event_id, frame = stream.append(event, data)
        if frame is not None:
            for channel in self._channels.get(participant_uuid, ()):
                if channel.stream is stream:
                    channel.put(frame)
        return event_id

    def close_participant(self, participant_uuid: str, reason: str) -> int:
        """End the participant's connections (its streams stay, for a reconnect to resume)."""
        channels = self._channels.get(participant_uuid, [])
        for channel in channels:
            channel.close(reason)
        return len(channels)

    def close_all(self, reason: str) -> int:
        count = 0
        for uuid in list(self._channels):
            count += self.close_participant(uuid, reason)
        return count

    def forget(self, participant_uuid: str, reason: str) -> int:
        """The participant is gone: end its connections and drop its streams."""
        self._streams.pop(participant_uuid, None)
        return self.close_participant(participant_uuid, reason)

    def forget_streams(self, participant_uuid: str | None = None) -> None:
        """Drop the replay logs (fault injection): the next reconnect must re-sync."""
        uuids = list(self._streams) if participant_uuid is None else [participant_uuid]
        for uuid in uuids:
            for stream in self._streams.get(uuid, ()):
                stream.forget()

    def lose_next(self, participant_uuid: str, count: int = 1) -> None:
        """Number the next ``count`` events of the participant's newest stream but never
        send or keep them (fault injection: a gap the client must notice)."""
        streams = self._streams.get(participant_uuid)
        if not streams:
            raise ValueError(f"participant {participant_uuid} has no event stream")
        streams[-1].lose_next(count)

    def connected(self, participant_uuid: str) -> int:
        """How many streams the participant has open."""
        return sum(1 for c in self._channels.get(participant_uuid, ()) if not c.closed)

    def channels(self) -> Iterator[EventChannel]:
        for channels in self._channels.values():
            yield from channels
