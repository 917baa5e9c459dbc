"""Repaired encoded media on the RTP shortcut: receivers whose frames must not be lost.

:mod:`.encoded_fast` is for load: loss is counted and answered with a keyframe request. A
recorder wants what aiortc's receiver gives (reordering undone, losses NACKed and repaired,
receiver reports and REMB for the sender's rate control) without aiortc's per-packet cost,
which was two thirds of a passthrough recorder's event loop. :func:`repairing_encoded_receive`
puts one tapped receiver (:func:`pexbot.rtc.encoded.tap_encoded`) on a
:class:`~.repair_buffer.RepairBuffer`:

- packets the shortcut hands over (:class:`~.rtp_fast.FastReceive`) and packets aiortc's path
  still routes (the first of a new SSRC, the first retransmission on the RTX SSRC) go to the
  same buffer: the receiver's packet handler is replaced on this object, so no frame can come
  out of aiortc's jitter buffer beside ours;
- RTX (RFC 4588) is unwrapped; missing packets are NACKed as the buffer says; a frame given up
  costs a PLI (at most one every ``pli_interval``);
- the receiver's own RTCP statistics (its receiver reports) and its REMB estimator
  (abs-send-time) are fed as aiortc's path feeds them; timestamps go through the receiver's own
  mapper, as the tap's frames do.

Frames leave as :class:`media.encoded.EncodedFrame` through :func:`pexbot.rtc.encoded.deliver`
(pushed to a subscriber, or queued on the track).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiortc import RTCRtpReceiver, clock
from aiortc.codecs import depayload
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtcpPsfbPacket, RtcpRtpfbPacket, RtpPacket, pack_remb_fci

from media.encoded import EncodedFrame, is_keyframe

from .encoded import TapStats, deliver
from .encoded_fast import starts_frame
from .repair_buffer import RepairBuffer
from .rtp_counter import RtpReceiveCounter
from .rtp_fast import FastReceive, RtpHeader, send_rtcp_now

log = logging.getLogger(__name__)

_RECEIVER = "_RTCRtpReceiver__"
_PLI, _NACK, _REMB = 1, 1, 15


class _Seen:
    """What aiortc's StreamStatistics reads of a packet."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self, sequence_number: int, timestamp: int) -> None:
        self.sequence_number = sequence_number
        self.timestamp = timestamp


class _CodecInfo:
    """What each packet needs of its codec, read once (the codec's ``name`` is a property
    that splits its MIME type on every call)."""

    __slots__ = ("clock_rate", "codec", "name", "rtx")

    def __init__(self, codec: Any) -> None:
        self.codec = codec
        self.name: str = codec.name
        self.rtx = self.name.lower() == "rtx"
        self.clock_rate = int(codec.clockRate)


class RepairingReceive:
    """One receiver's packets, both ways in, through one :class:`RepairBuffer`."""

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        codecs: dict[int, Any],
        counter: RtpReceiveCounter,
        stats: TapStats,
        *,
        max_queued: int = 64,
        pli_interval: float = 0.5,
    ) -> None:
        self.receiver = receiver
        self.codecs = codecs
        self.counter = counter
        self.stats = stats
        self.max_queued = max_queued
        self.pli_interval = pli_interval
        self.audio = getattr(receiver, _RECEIVER + "kind", "video") == "audio"
        self.buffer = RepairBuffer(audio=self.audio)
        self.media_ssrc: int | None = None
        self.unknown_payload = 0
        self.unparsable = 0
        self._info: dict[int, _CodecInfo] = {}
        self._last_pli = -1e9
        self._streams: dict[int, StreamStatistics] = getattr(receiver, _RECEIVER + "remote_streams")
        self._rtx: dict[int, int] = getattr(receiver, _RECEIVER + "rtx_ssrc", {})
        self._active: dict[int, Any] = getattr(receiver, _RECEIVER + "active_ssrc")
        self._active_at = -1e9
        self._mapper = getattr(receiver, _RECEIVER + "timestamp_mapper")
        self._estimator = getattr(receiver, _RECEIVER + "remote_bitrate_estimator", None)
        ext_map = getattr(receiver, _RECEIVER + "rtp_header_extensions_map", None)
        ids = getattr(ext_map, "_HeaderExtensionsMap__ids", None)
        self._abs_send_time_id: int | None = getattr(ids, "abs_send_time", None)

    # --- the two ways in ---------------------------------------------------------------------

    def fast(self, plain: bytes, header: RtpHeader, arrival: float) -> None:
        """A packet from :class:`FastReceive` (unprotected)."""
        abs_send_time = None
        if self._estimator is not None and self._abs_send_time_id and plain[0] & 0x10:
            abs_send_time = _abs_send_time(plain, self._abs_send_time_id)
        self.take(
            header.payload_type,
            header.ssrc,
            header.sequence_number,
            header.timestamp,
            header.marker,
            plain[header.payload_start : header.payload_end],
            arrival,
            abs_send_time,
        )

    async def slow(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """Stands in for the receiver's ``_handle_rtp_packet`` (aiortc's routed packets)."""
        if not getattr(self.receiver, "_enabled", True):
            return
        try:
            self.take(
                packet.payload_type,
                packet.ssrc,
                packet.sequence_number,
                packet.timestamp,
                bool(packet.marker),
                packet.payload,
                time.monotonic(),
                packet.extensions.abs_send_time,
            )
        except Exception:  # one receiver's bug must not stop the transport's task
            log.exception("repairing receive failed")

    # --- one packet --------------------------------------------------------------------------

    def take(
        self,
        payload_type: int,
        ssrc: int,
        seq: int,
        timestamp: int,
        marker: bool,
        payload: bytes,
        arrival: float,
        abs_send_time: int | None,
    ) -> None:
        info = self._info.get(payload_type)
        if info is None:
            codec = self.codecs.get(payload_type)
            if codec is None:
                self.unknown_payload += 1
                return
            info = self._info[payload_type] = _CodecInfo(codec)
        arrival_ms = int(arrival * 1000)
        self.counter.header(payload_type, ssrc, seq, timestamp, len(payload), arrival_ms)
        stream = self._streams.get(ssrc)
        if stream is None:
            stream = self._streams[ssrc] = StreamStatistics(info.clock_rate)
        stream.add(_Seen(seq, timestamp))  # type: ignore[arg-type]  # (what add() reads)
        if self._estimator is not None and abs_send_time is not None:
            self._remb(abs_send_time, arrival_ms, len(payload), ssrc)
        if info.rtx:
            apt = info.codec.parameters.get("apt")
            if len(payload) < 2 or apt not in self.codecs:
                return
            seq = (payload[0] << 8) | payload[1]
            payload = payload[2:]
            info = self._info.get(apt) or self._info.setdefault(apt, _CodecInfo(self.codecs[apt]))
            ssrc = self._rtx.get(ssrc, self.media_ssrc or ssrc)
        if ssrc != self.media_ssrc:
            if self.media_ssrc is not None:
                self.buffer = RepairBuffer(audio=self.audio)  # a new source starts clean
            self.media_ssrc = ssrc
            self._active_at = -1e9
        if arrival - self._active_at >= 1.0:
            # The sources getSynchronizationSources() lists (heard in the last 10 s), which
            # keyframe requests go to; aiortc's path stamps them per packet.
            self._active_at = arrival
            self._active[ssrc] = clock.current_datetime()
        name = info.name
        try:
            data = depayload(info.codec, payload) if payload else b""
        except ValueError:
            self.unparsable += 1  # as good as lost: the buffer waits, NACKs, gives up
            return
        starts = self.audio or starts_frame(name, payload)
        for frame in self.buffer.add(seq, timestamp, marker, data, starts, arrival):
            deliver(
                self.receiver,
                EncodedFrame(
                    codec=name,
                    data=frame.data,
                    timestamp=int(self._mapper.map(frame.timestamp)),
                    clock_rate=info.clock_rate,
                    arrival=frame.completed_at,
                    keyframe=is_keyframe(name, frame.data),
                ),
                self.stats,
                self.max_queued,
            )
        if not self.audio:
            self._feedback(ssrc, arrival)

    def _feedback(self, media_ssrc: int, now: float) -> None:
        rtcp_ssrc = getattr(self.receiver, _RECEIVER + "rtcp_ssrc", None)
        if rtcp_ssrc is None:
            return
        lost = self.buffer.due_nacks(now)
        if lost:
            nack = RtcpRtpfbPacket(fmt=_NACK, ssrc=rtcp_ssrc, media_ssrc=media_ssrc)
            nack.lost = sorted(lost)
            if send_rtcp_now(self.receiver.transport, bytes(nack)):
                self.counter.nacks += 1
                self.counter.nacked_packets += len(lost)
        if self.buffer.need_keyframe and now - self._last_pli >= self.pli_interval:
            self.buffer.need_keyframe = False
            self._last_pli = now
            pli = RtcpPsfbPacket(fmt=_PLI, ssrc=rtcp_ssrc, media_ssrc=media_ssrc)
            if send_rtcp_now(self.receiver.transport, bytes(pli)):
                self.counter.plis += 1

    def _remb(self, abs_send_time: int, arrival_ms: int, size: int, ssrc: int) -> None:
        assert self._estimator is not None
        remb = self._estimator.add(
            abs_send_time=abs_send_time, arrival_time_ms=arrival_ms, payload_size=size, ssrc=ssrc
        )
        rtcp_ssrc = getattr(self.receiver, _RECEIVER + "rtcp_ssrc", None)
        if remb is not None and rtcp_ssrc is not None:
            packet = RtcpPsfbPacket(
                fmt=_REMB, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
            )
            send_rtcp_now(self.receiver.transport, bytes(packet))


def _abs_send_time(plain: bytes, ext_id: int) -> int | None:
    """The abs-send-time of an RTP packet with a one-byte-header extension block (RFC 8285)."""
    at = 12 + 4 * (plain[0] & 0x0F)
    if len(plain) < at + 4 or plain[at] != 0xBE or plain[at + 1] != 0xDE:
        return None
    end = at + 4 + 4 * ((plain[at + 2] << 8) | plain[at + 3])
    i = at + 4
    while i < end and i < len(plain):
        byte = plain[i]
        if byte == 0:  # padding
            i += 1
            continue
        element, length = byte >> 4, (byte & 0x0F) + 1
        if element == 15:
            return None
        if element == ext_id and length == 3 and i + 4 <= len(plain):
            return (plain[i + 1] << 16) | (plain[i + 2] << 8) | plain[i + 3]
        i += 1 + length
    return None


def repairing_encoded_receive(
    hook: FastReceive,
    receiver: RTCRtpReceiver,
    counter: RtpReceiveCounter,
    stats: TapStats,
    *,
    max_queued: int = 64,
) -> RepairingReceive | None:
    """Put a tapped receiver on the repairing shortcut (see the module docstring); None when
    the receiver lacks what it needs where aiortc 1.16 keeps it (it then stays on aiortc's
    path)."""
    codecs = getattr(receiver, _RECEIVER + "codecs", None)
    needed = ("remote_streams", "timestamp_mapper", "active_ssrc")
    if not isinstance(codecs, dict) or not all(hasattr(receiver, _RECEIVER + n) for n in needed):
        return None
    repairing = RepairingReceive(receiver, codecs, counter, stats, max_queued=max_queued)
    receiver._handle_rtp_packet = repairing.slow  # type: ignore[method-assign]
    hook.register(receiver, repairing.fast)
    return repairing


__all__ = ["RepairingReceive", "repairing_encoded_receive"]
