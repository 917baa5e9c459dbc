"""The forwarder's outgoing side on the frame path (:mod:`.forward` when the RTP fast path
cannot run): one track per receiver and m-line that sends another participant's encoded frames
as they came; and the keyframe requests both paths pass upstream.

:class:`ForwardTrack` is what the emulator's sender reads: ``recv()`` returns ``av.Packet``
objects, which aiortc's sender packetizes without encoding. The router says which source
(participant call and role) feeds it (:meth:`ForwardTrack.set_source`); the source's frames
are pushed in as its receiver completes them. Timestamps are rewritten so that the receiver
sees one continuous stream: within a source the source's own spacing is kept, and when the
source changes the new one starts where the old one stopped plus the time that passed, so RTP
timestamps never jump back.

A video decoder must start on a keyframe, so after a switch, at the start and after an
overflow the track drops frames until the source sends a keyframe, and asks the source for one
(:class:`KeyframeRequests`: a PLI upstream, at most one per source per interval). It asks only
while its sender is reading: a receiver that is not being served yet must not make its source
send keyframes. The far end's own PLI/FIR (:meth:`ForwardTrack.keyframe_requested`) goes
upstream the same way.

The queue is bounded: a slow receiver loses frames (video: everything queued, then it waits for
a keyframe; audio: the oldest packet), it never grows memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.encoded import EncodedFrame, as_packet
from pexbot.rtc.sdp import MediaRole

log = logging.getLogger(__name__)

__all__ = ["ForwardStats", "ForwardTrack", "KeyframeRequests", "SourceKey"]

#: a forwarded source: (call uuid, role) of the participant call whose frames are sent
SourceKey = tuple[str, MediaRole]

#: seconds a track waiting for a keyframe waits before asking again
REASK_INTERVAL = 1.0


@dataclass
class ForwardStats:
    forwarded: int = 0  # packets handed to the sender
    dropped: int = 0  # frames lost to a full queue (the receiver fell behind)
    waiting: int = 0  # video frames dropped while waiting for a keyframe
    wrong_codec: int = 0  # frames of another codec than the one negotiated (dropped)
    switches: int = 0  # times the source changed
    keyframes_asked: int = 0  # upstream requests made (before rate limiting)
    keyframe_requests: int = 0  # PLI/FIR from the far end


class ForwardTrack(MediaStreamTrack):
    """The encoded frames of one source at a time, as packets for one sender.

    ``codec`` is the negotiated encoding name (``"VP8"``, ``"H264"``, ``"opus"``);
    ``ask_keyframe(source)`` is called when a keyframe of ``source`` is wanted; nothing is
    queued or sent before ``gate`` is set (the ``ack``).
    """

    def __init__(
        self,
        kind: str,
        codec: str,
        *,
        ask_keyframe: Callable[[SourceKey], None],
        gate: asyncio.Event | None = None,
        max_queued: int | None = None,
        reask_interval: float = REASK_INTERVAL,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.codec = codec
        self.stats = ForwardStats()
        self.source: SourceKey | None = None
        self._ask_keyframe = ask_keyframe
        self._gate = gate
        # Video: about half a second at 15 fps; audio: 0.4 s of 20 ms packets.
        self._max = max(1, max_queued if max_queued is not None else (8 if kind == "video" else 20))
        self._reask = reask_interval
        self._queue: collections.deque[tuple[SourceKey, EncodedFrame]] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._need_keyframe = kind == "video"
        # (source, its timestamp, its arrival) of the last frame sent, and the pts it went as
        self._last: tuple[SourceKey, int, float] | None = None
        self._pts = 0

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._need_keyframe

    def set_source(self, source: SourceKey | None) -> None:
        """Forward ``source`` from its next (key)frame on; None: send nothing."""
        if source == self.source:
            return
        self.source = source
        self.stats.switches += 1
        if self.kind == "video":
            # Frames of the old source still queued are sent (they decode); the new source's
            # frames wait for its next keyframe, which recv() asks for.
            self._need_keyframe = True
        self._wake()

    def push(self, source: SourceKey, frame: EncodedFrame) -> None:
        """A frame of ``source`` completed by the emulator's receiver (on the event loop)."""
        if source != self.source or self.readyState != "live":
            return
        if self._gate is not None and not self._gate.is_set():
            return
        stats = self.stats
        if frame.codec.lower() != self.codec.lower():
            stats.wrong_codec += 1
            return
        if self._need_keyframe:
            if not frame.keyframe:
                stats.waiting += 1
                return
            self._need_keyframe = False
        if len(self._queue) >= self._max:
            if self.kind == "video":
                # Any frame dropped breaks the references of those after it: drop them all and
                # start again from a keyframe.
                stats.dropped += len(self._queue)
                self._queue.clear()
                if not frame.keyframe:
                    stats.dropped += 1
                    self._need_keyframe = True
                    self._wake()
                    return
            else:
                self._queue.popleft()
                stats.dropped += 1
        self._queue.append((source, frame))
        self._wake()

    def keyframe_requested(self) -> None:
        """The far end sent PLI/FIR to our sender: ask the source."""
        self.stats.keyframe_requests += 1
        self._ask()

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        loop = asyncio.get_running_loop()
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._gate is not None and not self._gate.is_set():
                await self._gate.wait()
                continue
            if self._queue:
                break
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiter = waiter
            try:
                if self._need_keyframe and self.source is not None:
                    self._ask()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._reask):
                            await waiter
                else:
                    await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        source, frame = self._queue.popleft()
        self.stats.forwarded += 1
        return as_packet(frame, pts=self._restamp(source, frame))

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        self._wake()

    def _restamp(self, source: SourceKey, frame: EncodedFrame) -> int:
        last = self._last
        self._last = (source, frame.timestamp, frame.arrival)
        if last is None:
            self._pts = 0
            return 0
        clock = frame.clock_rate
        step = frame.timestamp - last[1]
        if last[0] != source or not 0 < step < 5 * clock:
            # Another source (or this one jumped): go on by the time that passed between them.
            step = max(1, round((frame.arrival - last[2]) * clock))
        self._pts += step
        return self._pts

    def _ask(self) -> None:
        if self.source is not None and self.kind == "video":
            self.stats.keyframes_asked += 1
            self._ask_keyframe(self.source)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class KeyframeRequests:
    """Keyframe requests upstream, at most one per source per ``interval`` seconds.

    A request within the interval after the last one is not lost: one request is sent when the
    interval ends, however many came meanwhile (many receivers of one source asking together
    cost the source one keyframe). ``send(source)`` does the asking (a PLI from the emulator's
    receiver of that source). Its tasks are owned here: :meth:`aclose` cancels and awaits them.
    """

    def __init__(
        self,
        send: Callable[[SourceKey], Awaitable[Any]],
        *,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval = interval
        self._clock = clock
        self._last: dict[SourceKey, float] = {}
        self._deferred: dict[SourceKey, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.sent = 0
        self.coalesced = 0

    def request(self, source: SourceKey) -> None:
        if self._closed:
            return
        if source in self._deferred:
            self.coalesced += 1
            return
        wait = self._last.get(source, -math.inf) + self._interval - self._clock()
        if wait > 0:
            self.coalesced += 1
            loop = asyncio.get_running_loop()
            self._deferred[source] = loop.call_later(wait, self._fire, source)
            return
        self._fire(source)

    def forget(self, call_uuid: str) -> None:
        """The call is gone: drop its pending requests and history."""
        for source in [s for s in self._last if s[0] == call_uuid]:
            del self._last[source]
        for source in [s for s in self._deferred if s[0] == call_uuid]:
            self._deferred.pop(source).cancel()

    async def aclose(self) -> None:
        self._closed = True
        for handle in self._deferred.values():
            handle.cancel()
        self._deferred.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _fire(self, source: SourceKey) -> None:
        self._deferred.pop(source, None)
        if self._closed:
            return
        self._last[source] = self._clock()
        self.sent += 1
        task = asyncio.get_running_loop().create_task(
            self._run(source), name=f"keyframe-{source[0]}-{source[1]}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, source: SourceKey) -> None:
        try:
            await self._send(source)
        except Exception:  # a connection closing under us: the next request will do
            log.debug("keyframe request to %s failed", source, exc_info=True)
