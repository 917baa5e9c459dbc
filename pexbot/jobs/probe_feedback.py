"""What the probe's receivers asked the node to repair, and the round trips RTCP measured.

aiortc keeps no count of the feedback a receiver sends, so :class:`FeedbackCounter` wraps the
two sending methods of each receiver *object* it is shown (never the class: many bots share a
process): NACKs (packets asked again, RFC 4585 §6.2.1) and PLIs (a new key frame asked for,
§6.3.1). A restart brings a new peer connection with new receivers; the probe shows it each
one as it samples.

It also times round trips from RTCP (RFC 3550 §6.4.1): each sender's sender reports are
noted as they go out (their LSR and when), and every receiver report coming back that names one
of them gives ``now - sent - DLSR``. aiortc's own ``roundTripTime`` is not used: it only counts
a report naming the *latest* sender report, so under jitter the slower round trips (whose
report comes back after the next sender report left) are left out and it reads low (381 ms for
a 400 ms round trip with ±50 ms jitter each way), and it is smoothed besides. These are raw
samples of the path only: no jitter buffer, no decoding, no frame assembly in them.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc.rtp import RtcpRrPacket, RtcpSrPacket

__all__ = ["FeedbackCounter"]

_SENT_KEPT = 16  # sender reports remembered per sender (a report names one of the last few)
_SAMPLES_KEPT = 20_000


class FeedbackCounter:
    def __init__(self) -> None:
        self.nacks = 0  # NACK messages sent
        self.nacked_packets = 0  # sequence numbers they asked for
        self.plis = 0
        #: RTCP round trips in ms (every sender's), in the order they were measured
        self.round_trips_ms: list[float] = []
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, pc: Any) -> None:
        """Count the feedback of every receiver of ``pc``, and time the round trips of every
        sender, not watched yet."""
        for sender in pc.getSenders():
            if sender not in self._watched and self._time_round_trips(sender):
                self._watched.add(sender)
        for receiver in pc.getReceivers():
            if receiver in self._watched:
                continue
            nack = getattr(receiver, "_send_rtcp_nack", None)
            pli = getattr(receiver, "_send_rtcp_pli", None)
            if nack is None or pli is None:
                continue  # another aiortc: nothing to count, and nothing broken
            receiver._send_rtcp_nack = self._counting_nack(nack)
            receiver._send_rtcp_pli = self._counting_pli(pli)
            self._watched.add(receiver)

    def _time_round_trips(self, sender: Any) -> bool:
        send = getattr(sender, "_send_rtcp", None)
        handle = getattr(sender, "_handle_rtcp_packet", None)
        if send is None or handle is None:
            return False
        sent: OrderedDict[int, float] = OrderedDict()  # LSR -> time.time() it went out

        async def sending(packets: list[Any]) -> None:
            for packet in packets:
                if isinstance(packet, RtcpSrPacket):
                    sent[(packet.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF] = time.time()
                    while len(sent) > _SENT_KEPT:
                        sent.popitem(last=False)
            await send(packets)

        async def handling(packet: Any) -> None:
            if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
                now = time.time()
                for report in packet.reports:
                    at = sent.get(report.lsr)
                    if report.ssrc == sender._ssrc and report.dlsr and at is not None:
                        rtt = now - at - report.dlsr / 65536
                        if len(self.round_trips_ms) < _SAMPLES_KEPT:
                            self.round_trips_ms.append(round(rtt * 1000.0, 2))
            await handle(packet)

        sender._send_rtcp = sending
        sender._handle_rtcp_packet = handling
        return True

    def _counting_nack(
        self, send: Callable[[int, list[int]], Awaitable[None]]
    ) -> Callable[[int, list[int]], Awaitable[None]]:
        async def counted(media_ssrc: int, lost: list[int]) -> None:
            self.nacks += 1
            self.nacked_packets += len(lost)
            await send(media_ssrc, lost)

        return counted

    def _counting_pli(
        self, send: Callable[[int], Awaitable[None]]
    ) -> Callable[[int], Awaitable[None]]:
        async def counted(media_ssrc: int) -> None:
            self.plis += 1
            await send(media_ssrc)

        return counted
