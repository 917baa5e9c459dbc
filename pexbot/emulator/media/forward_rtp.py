"""The forwarder's packet rewrite (``--media forward`` on the RTP fast path): pure, no sockets.

An SFU forwards a source's RTP packets to each destination as they came, with only the header
rewritten for the destination's session. :class:`StreamRewriter` is one outgoing stream of one
destination (one m-line of one call): whatever source the router currently forwards it, every
packet leaves with the destination sender's SSRC, the destination's negotiated payload type and
its own header extension block (ids differ per session, so the block is rebuilt with the mid
and abs-send-time, never copied), and with sequence numbers and timestamps shifted by a
per-destination offset. The offsets are set afresh at each switch of source (or of the
source's SSRC) so that the outgoing stream stays continuous: the new source's first packet
follows the last one sent (sequence number + 1; timestamp + the time that passed, in the
codec's clock), so the receiver sees one stream that never jumps back, and a loss upstream is
still a gap downstream (NACK and PLI work as usual).

Video is gated: after a switch (and at the start) nothing of the new source goes out until a
packet that starts a keyframe (VP8: S=1, partition 0 and a key frame's payload header;
H.264: an IDR or SPS first), so the receiver never decodes a delta frame against another
source's reference; while waiting it asks for a keyframe (``ask(source)``, at most once per
``reask_interval``). Packets of the new source older than the one the stream started on are
dropped (they would reuse sequence numbers already sent). Recent packets are kept for
retransmission (:meth:`StreamRewriter.retransmission`), under their outgoing sequence numbers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from media.encoded import vp8_is_keyframe
from pexbot.rtc.rtp_fast import RtpHeader, RtpWriter

from .forward_tracks import SourceKey

__all__ = [
    "HISTORY",
    "StreamBinding",
    "StreamRewriter",
    "StreamStats",
    "h264_keyframe_start",
    "keyframe_start",
    "vp8_keyframe_start",
]

#: packets kept per stream for NACKs
HISTORY = 512
_H264_IDR, _H264_SPS, _H264_STAP_A, _H264_FU_A = 5, 7, 24, 28


def vp8_keyframe_start(payload: bytes) -> bool:
    """The RTP payload (RFC 7741 descriptor first) is the first packet of a VP8 key frame."""
    size = len(payload)
    if not size or payload[0] & 0x17 != 0x10:  # S=1 and PID=0
        return False
    at = 1
    if payload[0] & 0x80:  # X: the extension byte says which optional fields follow
        if size < 2:
            return False
        ext = payload[1]
        at = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if size <= at:
                return False
            at += 2 if payload[at] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            at += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            at += 1
    return vp8_is_keyframe(payload[at : at + 6])  # P bit 0 and the start code


def h264_keyframe_start(payload: bytes) -> bool:
    """The RTP payload (RFC 6184) starts an IDR access unit: an SPS or IDR slice as a single
    NAL unit, first in a STAP-A, or the first fragment of an IDR slice."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (_H264_IDR, _H264_SPS):
        return True
    if nal == _H264_STAP_A:
        return len(payload) > 3 and payload[3] & 0x1F in (_H264_IDR, _H264_SPS)
    if nal == _H264_FU_A:
        return len(payload) > 1 and payload[1] & 0x80 != 0 and payload[1] & 0x1F == _H264_IDR
    return False


def keyframe_start(codec: str, payload: bytes) -> bool:
    """``codec`` is an encoding name (``VP8``, ``H264``); False for anything else."""
    name = codec.upper()
    if name == "VP8":
        return vp8_keyframe_start(payload)
    if name == "H264":
        return h264_keyframe_start(payload)
    return False


@dataclass(frozen=True)
class StreamBinding:
    """What one destination's session negotiated for one m-line (its sender's side)."""

    ssrc: int
    payload_type: int
    mid: str | None = None
    mid_id: int | None = None
    abs_send_time_id: int | None = None


@dataclass
class StreamStats:
    forwarded: int = 0  # packets written
    waiting: int = 0  # packets of a new source dropped until its keyframe
    stale: int = 0  # packets older than the one the source started on (dropped)
    switches: int = 0  # times the source changed
    keyframes_asked: int = 0  # asks made while waiting (before the backend's rate limit)


class StreamRewriter:
    """One outgoing RTP stream of one destination (see the module docstring).

    ``kind`` is ``"audio"`` or ``"video"``; ``codec`` the encoding name every source of the
    room sends on that kind; ``clock_rate`` its RTP clock. ``ask(source)`` is called when a
    keyframe of ``source`` is wanted. Nothing is written before :meth:`bind`.
    """

    def __init__(
        self,
        kind: str,
        codec: str,
        clock_rate: int,
        *,
        ask: Callable[[SourceKey], None] = lambda source: None,
        reask_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.kind = kind
        self.codec = codec
        self.clock_rate = clock_rate
        self.stats = StreamStats()
        self.source: SourceKey | None = None
        self.binding: StreamBinding | None = None
        self._ask = ask
        self._reask = reask_interval
        self._rng = rng or random.Random()
        self._writer: RtpWriter | None = None
        self._gated = kind == "video"
        self._last_ask = -math.inf
        # the mapping of the current source: its SSRC, the first sequence number sent, offsets
        self._in_ssrc: int | None = None
        self._anchor = 0
        self._seq_offset = 0
        self._ts_offset = 0
        # the newest packet sent (outgoing numbering) and when its source's packet arrived
        self._last_seq: int | None = None
        self._last_ts = 0
        self._last_arrival = 0.0
        self._history: list[tuple[int, bytes] | None] = [None] * HISTORY

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._gated

    def bind(self, binding: StreamBinding) -> None:
        """Write for this session from now on (a new peer connection: a new decoder, so video
        waits for a keyframe again)."""
        if binding == self.binding:
            return
        self.binding = binding
        self._writer = RtpWriter(
            ssrc=binding.ssrc,
            payload_type=binding.payload_type,
            mid=binding.mid,
            mid_id=binding.mid_id,
            abs_send_time_id=binding.abs_send_time_id,
        )
        self._restart()

    def set_source(self, source: SourceKey | None) -> None:
        """Forward ``source`` from its next keyframe (video) or packet (audio) on."""
        if source == self.source:
            return
        self.source = source
        self.stats.switches += 1
        self._restart()

    def rewrite(
        self, payload: bytes, header: RtpHeader, arrival: float, ntp_now: float
    ) -> bytes | None:
        """The packet to send to this destination for one packet of its source (the source's
        header, the payload without padding; ``arrival`` on the monotonic clock, ``ntp_now``
        in NTP-epoch seconds for abs-send-time), or None: not this one."""
        writer = self._writer
        if writer is None or self.source is None or not payload:
            return None
        seq = header.sequence_number
        if header.ssrc != self._in_ssrc:
            if self._in_ssrc is not None and self.kind == "video":
                self._gated = True  # the source's encoder restarted: its references are gone
            if self._gated and not keyframe_start(self.codec, payload):
                self.stats.waiting += 1
                if arrival - self._last_ask >= self._reask:
                    self._last_ask = arrival
                    self.stats.keyframes_asked += 1
                    self._ask(self.source)
                return None
            self._start(header, arrival)
        elif (seq - self._anchor) & 0xFFFF >= 0x8000:
            self.stats.stale += 1
            return None
        out_seq = (seq + self._seq_offset) & 0xFFFF
        out_ts = (header.timestamp + self._ts_offset) & 0xFFFFFFFF
        last = self._last_seq
        if last is None or (out_seq - last) & 0xFFFF < 0x8000:
            self._last_seq, self._last_ts, self._last_arrival = out_seq, out_ts, arrival
        data = writer.packet(out_seq, out_ts, header.marker, payload, ntp_now)
        self._history[out_seq % HISTORY] = (out_seq, data)
        self.stats.forwarded += 1
        return data

    def retransmission(self, sequence_number: int) -> bytes | None:
        """The packet sent as ``sequence_number`` (outgoing numbering), if still kept."""
        kept = self._history[sequence_number % HISTORY]
        return kept[1] if kept is not None and kept[0] == sequence_number else None

    def _restart(self) -> None:
        self._in_ssrc = None
        self._gated = self.kind == "video"
        self._last_ask = -math.inf

    def _start(self, header: RtpHeader, arrival: float) -> None:
        if self._last_seq is None:
            out_seq = self._rng.randrange(0x10000)
            out_ts = self._rng.randrange(0x100000000)
        else:
            out_seq = (self._last_seq + 1) & 0xFFFF
            elapsed = round((arrival - self._last_arrival) * self.clock_rate)
            out_ts = (self._last_ts + max(1, elapsed)) & 0xFFFFFFFF
        self._in_ssrc = header.ssrc
        self._anchor = header.sequence_number
        self._seq_offset = (out_seq - header.sequence_number) & 0xFFFF
        self._ts_offset = (out_ts - header.timestamp) & 0xFFFFFFFF
        self._gated = False
