"""Encoded frames straight from RTP packets, for receivers on the fast path.

:func:`fast_encoded_receive` registers one tapped receiver (:func:`pexbot.rtc.encoded.
tap_encoded`) with a :class:`~.rtp_fast.FastReceive`: its packets skip aiortc's DTLS task,
jitter buffer and NACK generator, are counted (:class:`~.rtp_counter.RtpReceiveCounter`) and
reassembled here into the same :class:`media.encoded.EncodedFrame` objects the tap delivers, on
the same track. Packets that take aiortc's path (before the SSRC is known, after an ICE
restart replaced the connection) still reach the track through the tap, so nothing is lost by
falling back.

:class:`FrameAssembler` is pure: packets in sequence order make a frame at the marker bit; a
gap in the sequence numbers spoils the frame it falls in (counted, never delivered half) and
asks for a keyframe, at most once per ``pli_interval``. There are no NACKs on this path: a
load bot wants to see loss, not hide it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.codecs import depayload
from aiortc.rtp import RtcpPsfbPacket

from media.encoded import EncodedFrame, is_keyframe

from .encoded import TapStats, deliver
from .rtp_counter import RtpReceiveCounter
from .rtp_fast import FastReceive, RtpHeader, send_rtcp_now

_RECEIVER = "_RTCRtpReceiver__"
_PLI = 1


class FrameAssembler:
    """Frames of one receiver from its packets (pure: fed packets and the time)."""

    def __init__(
        self,
        codecs: dict[int, Any],
        emit: Callable[[EncodedFrame], None],
        *,
        pli_interval: float = 0.5,
    ) -> None:
        self.codecs = codecs  # payload type -> RTCRtpCodecParameters
        self._emit = emit
        self._pli_interval = pli_interval
        self._last_pli = -1e9
        self._expected: int | None = None
        self._timestamp: int | None = None
        self._parts: list[bytes] = []
        self._spoilt = False
        self.frames = 0
        self.spoilt_frames = 0
        self.unknown_payload = 0
        self.ssrc: int | None = None

    def packet(self, payload: bytes, header: RtpHeader, now: float) -> bool:
        """Take one packet; True when a keyframe should be asked for now."""
        codec = self.codecs.get(header.payload_type)
        if codec is None or codec.name.lower() == "rtx":
            self.unknown_payload += codec is None
            return False
        if header.ssrc != self.ssrc:  # a new source: start clean
            self.ssrc, self._expected, self._timestamp = header.ssrc, None, None
            self._parts, self._spoilt = [], False
        seq = header.sequence_number
        gap = False
        if self._expected is not None and seq != self._expected:
            if (seq - self._expected) & 0xFFFF >= 0x8000:
                return False  # late or repeated
            gap = True
        self._expected = (seq + 1) & 0xFFFF
        if header.timestamp != self._timestamp:
            if self._parts:
                self.spoilt_frames += 1  # the previous frame never saw its marker
            # A frame is whole only from its first packet on: the packets before the SSRC was
            # known went aiortc's way, and lost ones may have been this frame's first.
            whole = not gap and starts_frame(codec.name, payload)
            self._timestamp, self._parts, self._spoilt = header.timestamp, [], not whole
        elif gap:
            self._spoilt = True
        try:
            self._parts.append(depayload(codec, payload))
        except ValueError:
            self._spoilt = True
        audio = codec.mimeType[:6].lower() == "audio/"
        if audio or header.marker:
            if self._spoilt:
                self.spoilt_frames += 1
            else:
                data = b"".join(self._parts)
                self.frames += 1
                self._emit(
                    EncodedFrame(
                        codec=codec.name,
                        data=data,
                        timestamp=header.timestamp,
                        clock_rate=int(codec.clockRate),
                        arrival=now,
                        keyframe=is_keyframe(codec.name, data),
                    )
                )
            self._parts, self._spoilt = [], False
        if gap and not audio and now - self._last_pli >= self._pli_interval:
            self._last_pli = now
            return True
        return False


def starts_frame(codec: str, payload: bytes) -> bool:
    """Whether an RTP payload can be the first of a frame (audio: every one is)."""
    if not payload:
        return False
    name = codec.upper()
    if name == "VP8":  # RFC 7741 4.2: S set on the first packet of partition 0
        return payload[0] & 0x17 == 0x10
    if name == "H264":  # RFC 6184 5.2: a NAL unit, an aggregate, or a fragment's start
        nal_type = payload[0] & 0x1F
        if nal_type == 28:
            return len(payload) > 1 and bool(payload[1] & 0x80)
        return 1 <= nal_type <= 24
    return True


def fast_encoded_receive(
    hook: FastReceive,
    receiver: RTCRtpReceiver,
    counter: RtpReceiveCounter,
    stats: TapStats,
    *,
    max_queued: int = 64,
) -> FrameAssembler | None:
    """Put a tapped receiver on the fast path (see the module docstring); None if it has no
    codec table where aiortc keeps it."""
    codecs = getattr(receiver, _RECEIVER + "codecs", None)
    if not isinstance(codecs, dict):
        return None

    def emit(frame: EncodedFrame) -> None:
        deliver(receiver, frame, stats, max_queued)

    assembler = FrameAssembler(codecs, emit)

    def handle(plain: bytes, header: RtpHeader, arrival: float) -> None:
        payload = plain[header.payload_start : header.payload_end]
        counter.header(
            header.payload_type,
            header.ssrc,
            header.sequence_number,
            header.timestamp,
            len(payload),
            int(arrival * 1000),
        )
        if assembler.packet(payload, header, arrival):
            rtcp_ssrc = getattr(receiver, _RECEIVER + "rtcp_ssrc", None)
            if rtcp_ssrc is not None:
                pli = RtcpPsfbPacket(fmt=_PLI, ssrc=rtcp_ssrc, media_ssrc=header.ssrc)
                if send_rtcp_now(receiver.transport, bytes(pli)):
                    counter.plis += 1

    hook.register(receiver, handle)
    return assembler


__all__ = ["FrameAssembler", "fast_encoded_receive"]
