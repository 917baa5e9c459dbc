"""Encoded media through aiortc without a codec: receivers that hand over frames as they
arrived, and senders told when the far end asks for a keyframe.

aiortc has no receive path without decoding: every receiver starts a decoder thread that reads
reassembled frames from a thread queue. :func:`tap_encoded` swaps, for one receiver only, that
queue for one that hands each frame to the receiver's own track as a
:class:`media.encoded.EncodedFrame` (the jitter buffer, NACKs and PLIs on loss all still work;
the decoder thread stays idle until the receiver stops, then ends as before). Nothing global is
patched: other receivers in the same process keep decoding.

The tap must be in place before the receiver starts (aiortc starts it in a task scheduled by
``setRemoteDescription``/``setLocalDescription``): tap right after ``addTransceiver`` (offerer)
or right after ``setRemoteDescription`` returns (answerer). A receiver already started is left
alone and :func:`tap_encoded` returns False.

The track's queue is bounded here (aiortc's is not): past ``max_queued`` frames the oldest is
dropped and counted, so a consumer that falls behind costs frames, not memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender

from media.encoded import EncodedFrame, is_keyframe

from .prompt_start import drain_ready

_QUEUE = "_RTCRtpReceiver__decoder_queue"
_STARTED = "_RTCRtpReceiver__started"


@dataclass
class TapStats:
    frames: int = 0
    keyframes: int = 0
    bytes: int = 0
    dropped: int = 0  # frames dropped because the consumer fell behind


class _EncodedQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: frames go to the track, the stop marker
    (None) goes through to the idle decoder thread so that it ends the track as usual."""

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        stats: TapStats,
        max_queued: int,
        on_frame: Callable[[EncodedFrame], None] | None,
    ) -> None:
        super().__init__()
        self._receiver = receiver
        self._stats = stats
        self._max = max_queued
        self._on_frame = on_frame

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None, block, timeout)
            return
        codec, jitter_frame = item
        self._deliver(codec, jitter_frame)
        drain_ready(self._receiver, codec, lambda more: self._deliver(*more))

    def _deliver(self, codec: Any, jitter_frame: Any) -> None:
        data = bytes(jitter_frame.data)
        frame = EncodedFrame(
            codec=codec.name,
            data=data,
            timestamp=int(jitter_frame.timestamp),
            clock_rate=int(codec.clockRate),
            arrival=time.monotonic(),
            keyframe=is_keyframe(codec.name, data),
        )
        deliver(self._receiver, frame, self._stats, self._max, self._on_frame)


def deliver(
    receiver: RTCRtpReceiver,
    frame: EncodedFrame,
    stats: TapStats,
    max_queued: int,
    on_frame: Callable[[EncodedFrame], None] | None = None,
) -> None:
    """Count ``frame`` and hand it to ``on_frame``, to the track's subscriber
    (:meth:`pexbot.rtc.incoming.IncomingTrack.subscribe_encoded`: no task hop per frame), or
    to the receiver's track (bounded queue)."""
    stats.frames += 1
    stats.bytes += len(frame.data)
    stats.keyframes += frame.keyframe
    if on_frame is not None:
        on_frame(frame)
        return
    # The offerer's receiver has no track until the answer is set: look it up each time.
    push = getattr(receiver.track, "_pexbot_push", None)
    if push is not None:
        push(frame)
        return
    track_queue: asyncio.Queue[Any] = receiver.track._queue  # type: ignore[attr-defined]
    while track_queue.qsize() >= max_queued:
        with contextlib.suppress(asyncio.QueueEmpty):
            track_queue.get_nowait()
            stats.dropped += 1
    track_queue.put_nowait(frame)


def tap_encoded(
    receiver: RTCRtpReceiver,
    *,
    max_queued: int = 64,
    on_frame: Callable[[EncodedFrame], None] | None = None,
) -> TapStats | None:
    """Make ``receiver.track.recv()`` return :class:`EncodedFrame` objects, undecoded.

    With ``on_frame`` each frame is handed to that callback on the event loop instead (the track
    then only ends when the receiver stops). Returns the tap's counters, or None when the
    receiver had already started (too late to tap) or this aiortc has no such queue.
    """
    started = getattr(receiver, _STARTED, True)
    if started or not isinstance(getattr(receiver, _QUEUE, None), queue.Queue):
        return None
    stats = TapStats()
    setattr(receiver, _QUEUE, _EncodedQueue(receiver, stats, max(1, max_queued), on_frame))
    return stats


def is_tapped(receiver: RTCRtpReceiver) -> bool:
    return isinstance(getattr(receiver, _QUEUE, None), _EncodedQueue)


async def request_keyframe(receiver: RTCRtpReceiver) -> int:
    """Send a PLI for every source the receiver heard in the last 10 s; returns how many."""
    sent = 0
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)
        sent += 1
    return sent


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> bool:
    """Call ``callback`` whenever the far end asks ``sender`` for a keyframe (PLI or FIR).

    A sender fed ``av.Packet`` objects cannot force a keyframe itself (aiortc's flag only
    reaches its own encoder), so whoever encodes must hear of it. Patched on this sender
    object only.
    """
    original = getattr(sender, "_send_keyframe", None)
    if original is None:
        return False

    def send_keyframe() -> None:
        original()
        callback()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]
    return True


__all__ = [
    "TapStats",
    "deliver",
    "is_tapped",
    "on_keyframe_request",
    "request_keyframe",
    "tap_encoded",
]
