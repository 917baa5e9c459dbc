"""Two waits of aiortc's taken out of a call's start (and out of every video frame's latency).

Measured by ``benchmarks/join_latency.py`` (loopback, the emulator in another process, 15 fps):
of ~128 ms from ``Session.open`` to the first decoded remote frame, ~62 ms was the video jitter
buffer and ~19 ms ICE pacing. Both are changed per object (never aiortc's classes), guarded
like :mod:`.aiortc_compat`: on another version nothing is touched and aiortc behaves as its own.

- :func:`complete_frames_at_marker`: aiortc's video ``JitterBuffer`` hands a frame to the
  decoder only when the first packet of the *next* frame arrives (a new RTP timestamp), so
  every received picture, the first included, waits one frame interval (67 ms at 15 fps) for
  no reason. The RTP marker bit says a frame's last packet is in (RFC 6184 and RFC 7741; aiortc,
  libwebrtc and Infinity set it), so :class:`MarkerJitterBuffer` lets a frame go as soon as its
  packets from the first to the marked one are all there, and otherwise behaves as aiortc's.
- :func:`unpaced_ice_completion`: aioice paces its connectivity checks 20 ms apart (RFC 8445's
  Ta), but it also only looks at the outcome after each 20 ms sleep: a check answered in a
  millisecond on loopback still leaves ICE "checking" until the sleep ends, and DTLS and media
  start that much later. The replacement ``connect`` paces the checks the same way and returns
  as soon as the check list completes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable
from typing import Any

import aioice
import aiortc
from aioice.ice import ICE_COMPLETED, ICE_FAILED, Connection
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

log = logging.getLogger(__name__)

AIORTC_TESTED = ("1.16",)
AIOICE_TESTED = ("0.13",)
#: seconds between two checks started by ``connect`` (aioice's own Ta)
CHECK_PACING = 0.02
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_MAPPER_ATTR = "_RTCRtpReceiver__timestamp_mapper"
_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_STARTED_ATTR = "_RTCRtpReceiver__started"
_VIDEO_CAPACITY = 512  # aiortc's own
#: what the replacement ``connect`` uses of an aioice Connection
_CONNECT_PARTS = (
    "_local_candidates_end",
    "_remote_candidates",
    "_pair_remote_candidate",
    "sort_check_list",
    "_unfreeze_initial",
    "_early_checks",
    "_early_checks_done",
    "check_incoming",
    "_check_periodic",
    "_check_list_state",
    "_check_list",
    "_query_consent_task",
    "query_consent",
)


def _tested(version: str, tested: tuple[str, ...]) -> bool:
    return any(version.startswith(v + ".") for v in tested)


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, but a frame leaves once its marked last packet is in."""

    def __init__(self, capacity: int = _VIDEO_CAPACITY) -> None:
        super().__init__(capacity=capacity, is_video=True)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        assert self._origin is not None  # add() sets it before calling this
        timestamp: int | None = None
        packets: list[RtpPacket] = []
        for count in range(self._capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None  # a hole: the frame at the origin is not complete yet
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                # The next frame began without our seeing a marker: complete, as aiortc has it.
                return self._take(packets, timestamp, count)
            packets.append(packet)
            if packet.marker:
                return self._take(packets, timestamp, count + 1)
        return None

    def _take(self, packets: list[RtpPacket], timestamp: int, count: int) -> JitterFrame:
        frame = JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)  # type: ignore[attr-defined]
        self.remove(count)
        return frame


def drain_ready(receiver: RTCRtpReceiver, codec: Any, put: Callable[[Any], None]) -> int:
    """Hand over, after the frame the receiver just released, every complete frame waiting
    behind it. aiortc releases one frame per arriving packet: once a hole was repaired (NACK)
    the frames completed meanwhile leave one per later packet, and with one packet a frame
    they never catch up (the probe saw its video latency climb to 1.5 s under 5 % loss).
    Returns how many it handed over."""
    jitter = getattr(receiver, _JITTER_ATTR, None)
    mapper = getattr(receiver, _MAPPER_ATTR, None)
    if not isinstance(jitter, JitterBuffer) or not jitter._is_video or mapper is None:
        return 0
    if not _tested(aiortc.__version__, AIORTC_TESTED):
        return 0
    handed = 0
    # (aiortc's own _remove_frame, as ours, takes the next complete frame from the origin)
    while jitter._origin is not None and (frame := jitter._remove_frame(0)) is not None:
        frame.timestamp = mapper.map(frame.timestamp)
        put((codec, frame))
        handed += 1
    return handed


class DrainingQueue(queue.Queue[Any]):
    """A decoding receiver's decoder queue that also takes the frames :func:`drain_ready`
    finds (on the event loop, in order, right after the one the receiver put)."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        super().__init__()
        self._receiver = receiver
        self.drained = 0

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        if item is not None:
            self.drained += drain_ready(self._receiver, item[0], super().put)


def complete_frames_at_marker(receiver: RTCRtpReceiver) -> bool:
    """Give a video receiver a :class:`MarkerJitterBuffer`, before its first packet (nothing is
    lost), and a :class:`DrainingQueue` that takes the frames it completed meanwhile. Returns
    whether it has the buffer now."""
    if getattr(receiver, "_RTCRtpReceiver__kind", None) != "video":
        return False
    if not _tested(aiortc.__version__, AIORTC_TESTED):
        return False
    current = getattr(receiver, _JITTER_ATTR, None)
    if isinstance(current, MarkerJitterBuffer):
        return True
    if type(current) is not JitterBuffer or current._origin is not None:
        return False
    setattr(receiver, _JITTER_ATTR, MarkerJitterBuffer(capacity=current.capacity))
    drain_backlog(receiver)
    return True


def drain_backlog(receiver: RTCRtpReceiver) -> bool:
    """Give a decoding video receiver, before it starts, a :class:`DrainingQueue` (a tap,
    :func:`pexbot.rtc.encoded.tap_encoded`, replaces that queue and drains in its own).
    Returns whether it has one now."""
    if getattr(receiver, "_RTCRtpReceiver__kind", None) != "video":
        return False
    if isinstance(getattr(receiver, _QUEUE_ATTR, None), DrainingQueue):
        return True
    plain = type(getattr(receiver, _QUEUE_ATTR, None)) is queue.Queue
    if not plain or getattr(receiver, _STARTED_ATTR, True):
        return False
    setattr(receiver, _QUEUE_ATTR, DrainingQueue(receiver))
    return True


def unpaced_ice_completion(pc: RTCPeerConnection) -> int:
    """Give every ICE connection of ``pc`` made so far the ``connect`` that returns once the
    check list completes. Call it before a remote description is set (connecting starts
    there). Returns how many connections have it."""
    if not (
        _tested(aiortc.__version__, AIORTC_TESTED) and _tested(aioice.__version__, AIOICE_TESTED)
    ):
        return 0
    done = 0
    seen: set[int] = set()
    transports: list[Any] = [t.receiver.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    for dtls in transports:
        connection = getattr(getattr(dtls.transport, "iceGatherer", None), "_connection", None)
        if not isinstance(connection, Connection) or id(connection) in seen:
            continue
        seen.add(id(connection))
        done += unpace_connection(connection)
    return done


def unpace_connection(connection: Connection) -> bool:
    """Give one aioice connection (before its ``connect``) the ``connect`` that returns once
    the check list completes. Returns whether it has it now."""
    if getattr(connection, "_pexbot_unpaced", False):
        return True
    if not _tested(aioice.__version__, AIOICE_TESTED):
        return False
    if not all(hasattr(connection, name) for name in _CONNECT_PARTS):
        return False
    connection.connect = _unpaced_connect(connection)  # type: ignore[method-assign]
    connection._pexbot_unpaced = True  # type: ignore[attr-defined]
    return True


def _unpaced_connect(conn: Connection) -> Any:
    async def connect() -> None:
        # aioice 0.13's Connection.connect, but the pacing sleep ends when the check list does.
        if not conn._local_candidates_end:
            raise ConnectionError("Local candidates gathering was not performed")
        if conn.remote_username is None or conn.remote_password is None:
            raise ConnectionError("Remote username or password is missing")
        for remote_candidate in conn._remote_candidates:
            conn._pair_remote_candidate(remote_candidate)
        conn.sort_check_list()
        conn._unfreeze_initial()
        for early_check in conn._early_checks:
            conn.check_incoming(*early_check)
        conn._early_checks.clear()
        conn._early_checks_done = True
        outcome = asyncio.ensure_future(conn._check_list_state.get())
        try:
            while not outcome.done() and conn._check_periodic():
                await asyncio.wait({outcome}, timeout=CHECK_PACING)
            if outcome.done():
                result = outcome.result()
            elif conn._check_list:
                result = await outcome
            else:
                result = ICE_FAILED
        finally:
            outcome.cancel()
        for check in conn._check_list:
            if check.task:
                check.task.cancel()
        if result != ICE_COMPLETED:
            raise ConnectionError("ICE negotiation failed")
        conn._query_consent_task = asyncio.create_task(conn.query_consent())

    return connect
