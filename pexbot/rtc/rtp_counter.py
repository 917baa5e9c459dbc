"""What arrives on one receiving m-line, counted packet by packet (pure).

aiortc's inbound statistics have no byte counts and report every SSRC of a receiver (RTX
included) under one id, so the call counts for itself (hooked in by
:func:`pexbot.rtc.aiortc_compat.count_rtp`). One counter lives as long as the call: when the peer
connection is rebuilt the new SSRCs simply start new sequences, and totals keep adding up.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from aiortc.rtp import RtpPacket

_MAX_SOURCES = 16


@dataclass
class _Sequence:
    """RFC 3550 A.1/A.8 bookkeeping of one SSRC."""

    base: int
    highest: int  # extended (with wrap-arounds)
    received: int = 0
    jitter_ms: float = 0.0
    last_arrival_ms: int | None = None
    last_timestamp: int | None = None

    @property
    def expected(self) -> int:
        return self.highest - self.base + 1

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)


class RtpReceiveCounter:
    """Packets, bytes, losses and jitter of one receiver, across all its SSRCs.

    ``codecs`` maps payload types to (mime subtype, clock rate); the call fills it in after
    each negotiation. RTX packets count towards packets and bytes but not towards loss and
    jitter (they carry other sequence numbers and old timestamps).
    """

    def __init__(self) -> None:
        self.codecs: dict[int, tuple[str, int]] = {}
        self.packets = 0
        self.bytes = 0
        #: feedback the receiver sent: NACK messages (and packets they named), PLIs
        self.nacks = 0
        self.nacked_packets = 0
        self.plis = 0
        self.payload_type: int | None = None  # of the last media (non-RTX) packet
        self._sources: OrderedDict[int, _Sequence] = OrderedDict()
        self._lost_before = 0  # losses of sources forgotten (bounded memory)
        self._current: _Sequence | None = None

    def packet(self, packet: RtpPacket, arrival_ms: int) -> None:
        self.header(
            packet.payload_type,
            packet.ssrc,
            packet.sequence_number,
            packet.timestamp,
            len(packet.payload),
            arrival_ms,
        )

    def header(
        self,
        payload_type: int,
        ssrc: int,
        sequence_number: int,
        timestamp: int,
        payload_bytes: int,
        arrival_ms: int,
    ) -> None:
        """One packet, from its header fields (the fast path has no RtpPacket)."""
        self.packets += 1
        self.bytes += payload_bytes  # payload only, like aiortc's bytesSent
        codec = self.codecs.get(payload_type)
        if codec is not None and codec[0].lower() == "rtx":
            return
        self.payload_type = payload_type
        seq = self._sources.get(ssrc)
        if seq is None:
            seq = _Sequence(base=sequence_number, highest=sequence_number)
            self._sources[ssrc] = seq
            if len(self._sources) > _MAX_SOURCES:
                _, dropped = self._sources.popitem(last=False)
                self._lost_before += dropped.lost
        self._current = seq
        seq.received += 1
        # Extend the 16-bit sequence number to the one nearest the highest so far.
        delta = (sequence_number - seq.highest) & 0xFFFF
        if delta < 0x8000:
            seq.highest += delta
        else:
            return  # late or repeated: counted as received, no jitter sample
        rate = codec[1] if codec is not None else 0
        if rate and seq.last_arrival_ms is not None and seq.last_timestamp is not None:
            media_ms = ((timestamp - seq.last_timestamp) & 0xFFFFFFFF) * 1000 / rate
            if media_ms > 1e6:
                media_ms -= (1 << 32) * 1000 / rate  # timestamp went back a little
            d = abs((arrival_ms - seq.last_arrival_ms) - media_ms)
            seq.jitter_ms += (d - seq.jitter_ms) / 16
        seq.last_arrival_ms = arrival_ms
        seq.last_timestamp = timestamp

    @property
    def lost(self) -> int:
        return self._lost_before + sum(s.lost for s in self._sources.values())

    @property
    def jitter_ms(self) -> float | None:
        return self._current.jitter_ms if self._current is not None else None

    @property
    def codec(self) -> str | None:
        """The codec of the last media packet (``opus``, ``VP8``...)."""
        if self.payload_type is None:
            return None
        found = self.codecs.get(self.payload_type)
        return found[0] if found is not None else None
