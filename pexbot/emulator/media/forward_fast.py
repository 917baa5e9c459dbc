"""The forwarder's RTP fast path: packets in from the emulator's receivers, rewritten and out
through the destinations' transports, all on the event loop and without aiortc's per-packet
machinery (:mod:`pexbot.rtc.rtp_fast`).

- :class:`RtpSource` is one emulator receiver (one participant's call and role): registered
  with its transport's :class:`~pexbot.rtc.rtp_fast.FastReceive`, it gets every packet of the
  negotiated codec (RTX and anything else is dropped: the fast path sends no NACKs upstream, so
  nothing is retransmitted to it) and hands it to the outputs currently forwarded that source.
  It also sends the PLIs asked of that source (:meth:`RtpSource.pli`).
- :class:`RtpOutput` is one destination stream: a :class:`~.forward_rtp.StreamRewriter` bound
  to the destination's sender (its SSRC, payload type, mid and extension ids), sending each
  rewritten packet at once on the sender's transport (:func:`~pexbot.rtc.rtp_fast.
  send_rtp_now`). Nothing is sent before the call's ``ack`` or while the transport is not
  connected. The sender itself reads an :class:`IdleTrack` (it never sends a packet of its own)
  but keeps answering RTCP: a PLI/FIR from the far end asks the source for a keyframe, a NACK is
  answered from the rewriter's history, and its sender reports carry the counts of what was
  really sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver, clock
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtcpPsfbPacket

from pexbot.rtc.encoded import on_keyframe_request
from pexbot.rtc.rtp_fast import RtpHeader, send_rtcp_now, send_rtp_now

from .forward_rtp import StreamBinding, StreamRewriter
from .forward_tracks import SourceKey

log = logging.getLogger(__name__)

__all__ = ["IdleTrack", "OutputStats", "RtpOutput", "RtpSource", "binding_of"]

_SENDER = "_RTCRtpSender__"
_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_AST_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_PLI = 1
#: seconds between refreshes of the sender's report figures (aiortc's NTP clock is costly)
REPORT_INTERVAL = 0.25
#: seconds between the NTP epoch (1900) and the Unix epoch, for abs-send-time
NTP_OFFSET = 2208988800


class IdleTrack(MediaStreamTrack):
    """What a fast-path destination's sender reads: nothing, until it is stopped."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._stopped = asyncio.Event()

    async def recv(self) -> Any:
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        self._stopped.set()


def binding_of(transceiver: RTCRtpTransceiver) -> StreamBinding | None:
    """What the destination's session negotiated for this m-line, once the offer is applied
    (aiortc's answerer keeps it on the transceiver); None when it has no codec."""
    codecs = getattr(transceiver, "_codecs", None)
    if not codecs:
        return None
    ids = {ext.uri: ext.id for ext in getattr(transceiver, "_headerExtensions", None) or ()}
    return StreamBinding(
        ssrc=transceiver.sender._ssrc,
        payload_type=codecs[0].payloadType,
        mid=transceiver.mid,
        mid_id=ids.get(_MID_URI),
        abs_send_time_id=ids.get(_AST_URI),
    )


@dataclass
class OutputStats:
    sent: int = 0
    not_sent: int = 0  # transport not connected (yet), or the call not acked
    retransmitted: int = 0
    keyframe_requests: int = 0  # PLI/FIR from the far end


class RtpOutput:
    """One destination stream on the fast path (see the module docstring).

    ``ask_keyframe(source)`` asks a source for a keyframe (rate limited by the caller);
    nothing is sent before ``gate`` is set.
    """

    def __init__(
        self,
        kind: str,
        codec: str,
        clock_rate: int,
        *,
        ask_keyframe: Callable[[SourceKey], None],
        gate: asyncio.Event,
    ) -> None:
        self.kind = kind
        self.rewriter = StreamRewriter(kind, codec, clock_rate, ask=ask_keyframe)
        self.stats = OutputStats()
        self._ask_keyframe = ask_keyframe
        self._gate = gate
        self._sender: RTCRtpSender | None = None
        self._dtls: Any = None
        self._octets = 0
        self._reported = -REPORT_INTERVAL
        self._closed = False

    @property
    def source(self) -> SourceKey | None:
        return self.rewriter.source

    def set_source(self, source: SourceKey | None) -> None:
        self.rewriter.set_source(source)

    def attach(self, transceiver: RTCRtpTransceiver) -> bool:
        """Send as ``transceiver``'s sender (a new one after a peer connection was rebuilt);
        False when its negotiation is not known."""
        binding = binding_of(transceiver)
        if binding is None:
            return False
        sender = transceiver.sender
        if sender is not self._sender:
            self._sender, self._octets = sender, 0
            sender._retransmit = self.retransmit  # type: ignore[method-assign]
            on_keyframe_request(sender, self.keyframe_requested)
        self._dtls = sender.transport
        self.rewriter.bind(binding)
        return True

    def forward(self, payload: bytes, header: RtpHeader, arrival: float, ntp_now: float) -> None:
        """One packet of the source (on the event loop, from :class:`RtpSource`)."""
        dtls = self._dtls
        if dtls is None or dtls._tx_srtp is None or not self._gate.is_set() or self._closed:
            # Before the rewriter sees it, so a video stream goes on waiting for a keyframe.
            self.stats.not_sent += 1
            return
        data = self.rewriter.rewrite(payload, header, arrival, ntp_now)
        if data is None:
            return
        try:
            send_rtp_now(dtls, data)
        except ConnectionError:
            self.stats.not_sent += 1
            return
        self.stats.sent += 1
        self._octets += len(payload)
        if header.marker and arrival - self._reported >= REPORT_INTERVAL:
            self._reported = arrival
            self._report(data)

    def keyframe_requested(self) -> None:
        """The far end sent PLI/FIR to our sender: ask the source."""
        self.stats.keyframe_requests += 1
        source = self.rewriter.source
        if source is not None and self.kind == "video":
            self._ask_keyframe(source)

    async def retransmit(self, sequence_number: int) -> None:
        """A NACK from the far end (aiortc's sender calls this for each lost packet)."""
        data = self.rewriter.retransmission(sequence_number)
        if data is not None and self._dtls is not None:
            try:
                send_rtp_now(self._dtls, data)
            except ConnectionError:
                return
            self.stats.retransmitted += 1

    def close(self) -> None:
        self._closed = True
        self.rewriter.set_source(None)

    def _report(self, data: bytes) -> None:
        # What aiortc's sender reports put in their sender info (a frame's timestamp and the
        # time it went), kept fresh enough for reports sent every 0.5 to 1.5 s.
        sender = self._sender
        if sender is None:
            return
        setattr(sender, _SENDER + "ntp_timestamp", clock.current_ntp_time())
        setattr(sender, _SENDER + "rtp_timestamp", int.from_bytes(data[4:8], "big"))
        setattr(sender, _SENDER + "octet_count", self._octets & 0xFFFFFFFF)
        setattr(sender, _SENDER + "packet_count", self.stats.sent & 0xFFFFFFFF)


class RtpSource:
    """One emulator receiver on the fast path (see the module docstring).

    ``subscribed()`` gives the outputs forwarded this source now (looked up per packet: the
    router may have changed, or the leg moved to another room).
    """

    def __init__(
        self,
        key: SourceKey,
        receiver: RTCRtpReceiver,
        payload_type: int,
        rtcp_ssrc: int,
        subscribed: Callable[[], Sequence[RtpOutput]],
    ) -> None:
        self.key = key
        self.receiver = receiver
        self.payload_type = payload_type
        self.rtcp_ssrc = rtcp_ssrc
        self.ssrc: int | None = None  # the source's media SSRC, once heard
        self.packets = 0
        self.other = 0  # RTX or another payload type: dropped
        self.plis = 0
        self._subscribed = subscribed

    def handle(self, plain: bytes, header: RtpHeader, arrival: float) -> None:
        """:data:`pexbot.rtc.rtp_fast.PacketHandler` of the receiver."""
        if header.payload_type != self.payload_type:
            self.other += 1
            return
        self.packets += 1
        self.ssrc = header.ssrc
        outputs = self._subscribed()
        if not outputs:
            return
        payload = plain[header.payload_start : header.payload_end]
        ntp_now = time.time() + NTP_OFFSET
        for output in outputs:
            output.forward(payload, header, arrival, ntp_now)

    def pli(self) -> bool:
        """Ask the source for a keyframe; False when it has sent nothing yet or the transport
        is down."""
        if self.ssrc is None:
            return False
        packet = RtcpPsfbPacket(fmt=_PLI, ssrc=self.rtcp_ssrc, media_ssrc=self.ssrc)
        if send_rtcp_now(self.receiver.transport, bytes(packet)):
            self.plis += 1
            return True
        return False
