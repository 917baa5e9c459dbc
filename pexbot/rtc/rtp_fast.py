"""RTP without aiortc's per-packet machinery, for the objects that ask for it.

aiortc spends ~100 µs of Python per packet in each direction: every datagram wakes the DTLS
task through a queue, becomes an ``RtpPacket``, is routed, goes through the jitter buffer, the
NACK generator and the bitrate estimator; every packet sent is an ``RtpPacket`` serialised and
sent through four awaited layers. Load bots and the emulator's forwarder need none of that per
packet, so this module gives them three shortcuts, each installed on one object:

- :class:`FastReceive` hooks one ICE connection's datagram callback. An SRTP packet whose SSRC
  aiortc has routed to a receiver registered here is unprotected and handed, synchronously, to
  that receiver's handler; everything else (DTLS, RTCP, unregistered receivers, the first packet
  of a new SSRC, which teaches aiortc's router) takes aiortc's own path unchanged.
- :func:`fast_sender` replaces one sender's RTP loop: frames still come from aiortc's own
  ``_next_encoded_frame`` (so packets and frames sources both work), but each packet is written
  with a precomputed header, protected and sent at once; the sender's counters (for its sender
  reports) and its retransmission history are kept.
- :func:`send_rtp_now` / :func:`send_rtcp_now` put bytes on the wire of a DTLS transport
  without awaiting.

The header helpers (:func:`parse_header`, :class:`RtpWriter`) are pure. Every shortcut checks
the aiortc/aioice internals it needs and declines (returns False/None) when they differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import pylibsrtp
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError

from .aiortc_compat import aiortc_tested

log = logging.getLogger(__name__)

_SENDER = "_RTCRtpSender__"
_HISTORY = 256  # packets kept per sender for NACKs (aiortc keeps 128)
_FIXED = struct.Struct("!BBHII")
_NTP_EPOCH = 2208988800  # seconds from 1900 to 1970: abs-send-time and SRs count from 1900


class RtpHeader(NamedTuple):
    payload_type: int
    marker: bool
    sequence_number: int
    timestamp: int
    ssrc: int
    payload_start: int
    payload_end: int


def parse_header(data: bytes) -> RtpHeader | None:
    """The RTP header of a plain (unprotected) packet; None when it is not one."""
    size = len(data)
    if size < 12 or data[0] >> 6 != 2:
        return None
    first, second, seq, timestamp, ssrc = _FIXED.unpack_from(data)
    start = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 4 bytes of profile and length, then the words
        if size < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
    end = size
    if first & 0x20:  # padding: its length is the last byte, itself included
        if size <= start or not data[-1]:
            return None
        end -= data[-1]
    if start > end:
        return None
    return RtpHeader(second & 0x7F, bool(second & 0x80), seq, timestamp, ssrc, start, end)


class RtpWriter:
    """Headers of one outgoing stream: fixed fields, then the one-byte extension block with
    the mid (constant) and abs-send-time (patched per packet) where negotiated."""

    def __init__(
        self,
        *,
        ssrc: int,
        payload_type: int,
        mid: str | None = None,
        mid_id: int | None = None,
        abs_send_time_id: int | None = None,
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        elements = b""
        self._ast_at: int | None = None
        if mid is not None and mid_id:
            value = mid.encode()
            elements += bytes([(mid_id << 4) | (len(value) - 1)]) + value
        if abs_send_time_id:
            self._ast_at = 12 + 4 + len(elements) + 1
            elements += bytes([(abs_send_time_id << 4) | 2]) + b"\0\0\0"
        if elements:
            elements += b"\0" * (-len(elements) % 4)
            block = struct.pack("!HH", 0xBEDE, len(elements) // 4) + elements
        else:
            block = b""
        self._first = 0x90 if block else 0x80
        self._block = block

    def packet(
        self, sequence_number: int, timestamp: int, marker: bool, payload: bytes, now: float
    ) -> bytes:
        """One packet; ``now`` is the NTP-clock time for abs-send-time (ignored without it)."""
        head = bytearray(
            _FIXED.pack(
                self._first,
                (0x80 if marker else 0) | self.payload_type,
                sequence_number,
                timestamp,
                self.ssrc,
            )
        )
        head += self._block
        at = self._ast_at
        if at is not None:
            ast = int(now * (1 << 18)) & 0xFFFFFF  # 6.18 fixed point seconds
            head[at : at + 3] = ast.to_bytes(3, "big")
        head += payload
        return bytes(head)


def _nominated_pair(dtls: Any) -> Any:
    connection = getattr(dtls.transport, "_connection", None)
    pairs = getattr(connection, "_nominated", None)
    return pairs.get(1) if isinstance(pairs, dict) else None


def send_rtp_now(dtls: Any, data: bytes) -> int:
    """Protect ``data`` (RTP) and send it on ``dtls``'s selected pair; bytes sent.

    Raises ConnectionError when the transport is not connected (as aiortc's path does)."""
    srtp = getattr(dtls, "_tx_srtp", None)
    pair = _nominated_pair(dtls)
    if srtp is None or pair is None or pair.protocol.transport is None:
        raise ConnectionError("Cannot send encrypted RTP, not connected")
    protected = srtp.protect(data)
    pair.protocol.transport.sendto(protected, pair.remote_addr)
    _count(dtls, "tx", len(protected))
    return len(protected)


def send_rtcp_now(dtls: Any, data: bytes) -> bool:
    """Protect and send one compound RTCP packet; False when not connected."""
    srtp = getattr(dtls, "_tx_srtp", None)
    pair = _nominated_pair(dtls)
    if srtp is None or pair is None or pair.protocol.transport is None:
        return False
    protected = srtp.protect_rtcp(data)
    pair.protocol.transport.sendto(protected, pair.remote_addr)
    _count(dtls, "tx", len(protected))
    return True


def _count(dtls: Any, way: str, size: int, packets: int = 1) -> None:
    # The transport's own counters (its stats' bytesSent/bytesReceived: what bitrates are
    # computed from), which aiortc's path keeps per packet and the shortcut bypasses.
    try:
        if way == "rx":
            dtls._RTCDtlsTransport__rx_bytes += size
            dtls._RTCDtlsTransport__rx_packets += packets
        else:
            dtls._RTCDtlsTransport__tx_bytes += size
            dtls._RTCDtlsTransport__tx_packets += packets
    except AttributeError:
        pass  # not where aiortc 1.16 keeps them: the stats go without


#: a registered receiver's handler: the plain packet, its header, arrival (time.monotonic())
PacketHandler = Callable[[bytes, RtpHeader, float], None]


class FastReceive:
    """The shortcut for one DTLS transport's receivers (one per bundled peer connection)."""

    def __init__(self, dtls: Any, connection: Any) -> None:
        self.dtls = dtls
        self._connection = connection
        self._original: Callable[[bytes, int], None] = connection.data_received
        self._router = dtls._rtp_router
        self._handlers: dict[Any, PacketHandler] = {}
        self._by_ssrc: dict[int, PacketHandler | None] = {}
        self.fast_packets = 0
        self.slow_packets = 0
        connection.data_received = self._data_received
        self._protocols: list[Any] = []
        for protocol in getattr(connection, "_protocols", ()):
            self._skip_stun_parse(protocol)

    @classmethod
    def install(cls, dtls: Any) -> FastReceive | None:
        """Hook ``dtls``'s ICE connection (once: the same object is returned after)."""
        if not aiortc_tested() or not hasattr(dtls, "_rtp_router"):
            return None
        connection = getattr(getattr(dtls, "transport", None), "_connection", None)
        if connection is None or not callable(getattr(connection, "data_received", None)):
            return None
        existing = getattr(connection, "_pexbot_fast_receive", None)
        if isinstance(existing, FastReceive):
            return existing
        hook = cls(dtls, connection)
        connection._pexbot_fast_receive = hook
        return hook

    def register(self, receiver: RTCRtpReceiver, handler: PacketHandler) -> None:
        self._handlers[receiver] = handler
        self._by_ssrc.clear()

    def unregister(self, receiver: RTCRtpReceiver) -> None:
        self._handlers.pop(receiver, None)
        self._by_ssrc.clear()

    def _skip_stun_parse(self, protocol: Any) -> None:
        # aioice parses every datagram as STUN first and takes a ValueError as "media"; RTP and
        # RTCP (first byte 128-191, RFC 7983) never are STUN (0-3): hand them over at once.
        original = protocol.datagram_received
        component = getattr(getattr(protocol, "local_candidate", None), "component", None)
        if getattr(protocol, "receiver", None) is not self._connection or component is None:
            return

        def datagram_received(data: bytes, addr: Any) -> None:
            if data and 127 < data[0] < 192:
                self._data_received(data, component)
            else:
                original(data, addr)

        protocol.datagram_received = datagram_received
        self._protocols.append(protocol)

    def close(self) -> None:
        """Give the connection back its own callback (idempotent)."""
        for protocol in self._protocols:
            with contextlib.suppress(AttributeError):
                del protocol.datagram_received  # the class's own again
        self._protocols.clear()
        if self._connection.data_received == self._data_received:
            self._connection.data_received = self._original
        self._handlers.clear()
        self._by_ssrc.clear()

    def _handler_for(self, ssrc: int) -> PacketHandler | None:
        try:
            return self._by_ssrc[ssrc]
        except KeyError:
            pass
        receiver = self._router.ssrc_table.get(ssrc)
        if receiver is None:
            return None  # unknown yet: aiortc's path routes it and learns the SSRC
        handler = self._handlers.get(receiver)
        self._by_ssrc[ssrc] = handler
        return handler

    def _data_received(self, data: bytes, component: int) -> None:
        if len(data) >= 12 and 127 < data[0] < 192 and not 192 <= data[1] <= 208:
            srtp = self.dtls._rx_srtp
            if srtp is not None:
                handler = self._handler_for(int.from_bytes(data[8:12], "big"))
                if handler is not None:
                    try:
                        plain = srtp.unprotect(data)
                    except pylibsrtp.Error:
                        return  # replayed or damaged, as aiortc would drop it
                    header = parse_header(plain)
                    if header is not None:
                        self.fast_packets += 1
                        _count(self.dtls, "rx", len(data))
                        try:
                            handler(plain, header, time.monotonic())
                        except Exception:  # one handler's bug must not stop the transport
                            log.exception("fast RTP handler failed")
                    return
        self.slow_packets += 1
        self._original(data, component)


class _Retransmitter:
    def __init__(self, sender: RTCRtpSender) -> None:
        self.sender = sender
        self.history: list[tuple[int, bytes] | None] = [None] * _HISTORY

    async def __call__(self, sequence_number: int) -> None:
        kept = self.history[sequence_number % _HISTORY]
        if kept is not None and kept[0] == sequence_number:
            try:
                send_rtp_now(self.sender.transport, kept[1])
            except ConnectionError:
                pass


def _extension_ids(sender: RTCRtpSender) -> tuple[int | None, int | None]:
    ext_map = getattr(sender, _SENDER + "rtp_header_extensions_map", None)
    ids = getattr(ext_map, "_HeaderExtensionsMap__ids", None)
    return getattr(ids, "mid", None), getattr(ids, "abs_send_time", None)


def fast_sender(sender: RTCRtpSender) -> bool:
    """Send this sender's packets by the shortcut (see the module docstring). Call before the
    sender starts (it starts when a description is applied); False when it cannot be done."""
    needed = ("_run_rtp", "_next_encoded_frame", "_retransmit", "_ssrc")
    if not aiortc_tested() or not all(hasattr(sender, name) for name in needed):
        return False
    if not hasattr(sender, _SENDER + "rtp_exited"):
        return False
    retransmit = _Retransmitter(sender)

    async def run_rtp(codec: Any) -> None:
        await _run_fast(sender, codec, retransmit)

    sender._run_rtp = run_rtp  # type: ignore[method-assign]
    sender._retransmit = retransmit  # type: ignore[method-assign]
    return True


class _Transmitter:
    """One sender's outgoing stream: sequence numbers, timestamps, history, counters."""

    def __init__(self, sender: RTCRtpSender, codec: Any, retransmit: _Retransmitter) -> None:
        mid_id, ast_id = _extension_ids(sender)
        self.sender = sender
        self.writer = RtpWriter(
            ssrc=sender._ssrc,
            payload_type=codec.payloadType,
            mid=getattr(sender, _SENDER + "mid", None),
            mid_id=mid_id,
            abs_send_time_id=ast_id,
        )
        self.sequence_number = random.randint(0, 0xFFFF)
        self.origin = random.randint(0, 0xFFFFFFFF)
        self.history = retransmit.history
        self.octets = self.packets = 0

    def send(self, payloads: list[bytes], media_timestamp: int) -> None:
        timestamp = (self.origin + media_timestamp) & 0xFFFFFFFF
        now = time.time() + _NTP_EPOCH
        last = len(payloads) - 1
        writer, history = self.writer, self.history
        dtls = self.sender.transport
        srtp, pair = getattr(dtls, "_tx_srtp", None), _nominated_pair(dtls)
        transport = pair.protocol.transport if pair is not None else None
        if srtp is None or transport is None:
            raise ConnectionError("Cannot send encrypted RTP, not connected")
        protect, sendto, address = srtp.protect, transport.sendto, pair.remote_addr
        seq = self.sequence_number
        sent = 0
        for i, payload in enumerate(payloads):
            data = writer.packet(seq, timestamp, i == last, payload, now)
            history[seq % _HISTORY] = (seq, data)
            protected = protect(data)
            sendto(protected, address)
            sent += len(protected)
            self.octets += len(payload)
            self.packets += 1
            seq = (seq + 1) & 0xFFFF
        self.sequence_number = seq
        _count(dtls, "tx", sent, len(payloads))
        # what aiortc's sender reports put in their sender info
        sender = self.sender
        setattr(sender, _SENDER + "ntp_timestamp", int(now * (1 << 32)))
        setattr(sender, _SENDER + "rtp_timestamp", timestamp)
        setattr(sender, _SENDER + "octet_count", self.octets)
        setattr(sender, _SENDER + "packet_count", self.packets)


def packetize(codec: str, data: bytes, index: int) -> list[bytes]:
    """RTP payloads of one encoded frame, as aiortc's packetizers cut them (VP8: the picture
    id follows the frame index)."""
    if codec == "VP8":
        return Vp8Encoder._packetize(data, index & 0x7FFF)
    if codec == "H264":
        return H264Encoder._packetize(H264Encoder._split_bitstream(data))
    return [data]


def _push_source(sender: RTCRtpSender) -> tuple[Any, Any] | None:
    """(the call's outgoing track, its source) when the source can push packets
    (``subscribe``: media.shared_encoding.SharedTrack); the sender's track is the call's
    per-connection view (rtc.tracks.SendingTrack) of that outgoing track."""
    view = getattr(sender, _SENDER + "track", None)
    outgoing = getattr(view, "track", None)
    source = getattr(outgoing, "source", None)
    if callable(getattr(source, "subscribe", None)) and hasattr(outgoing, "muted"):
        return outgoing, source
    return None


async def _run_push(
    sender: RTCRtpSender, codec: Any, out: _Transmitter, outgoing: Any, source: Any
) -> None:
    """Send what ``source`` pushes until it is no longer the outgoing track's source."""
    name = codec.name.upper()
    ticks = codec.clockRate * source.time_base  # RTP clock ticks per frame index
    if ticks.denominator != 1:
        return  # not a whole number of ticks a frame: the pull loop's own conversion
    step = int(ticks)
    moved = asyncio.Event()
    lost: list[ConnectionError] = []

    def deliver(frame: Any) -> None:
        if outgoing.source is not source or getattr(sender, _SENDER + "track") is None:
            moved.set()
            return
        if outgoing.muted or not sender._enabled:
            return
        gate = getattr(outgoing, "_gate", None)
        if gate is not None and not gate.is_set():
            return  # on hold: nothing goes out
        payloads = frame.derived.get(name)
        if payloads is None:  # packetized once for every bot sending this frame
            payloads = frame.derived[name] = packetize(name, frame.data, frame.index)
        try:
            out.send(payloads, frame.index * step)
        except ConnectionError as exc:
            lost.append(exc)
            moved.set()
            return
        outgoing.packets += 1

    if not source.subscribe(deliver):
        return
    try:
        await moved.wait()
    finally:
        source.unsubscribe()
    if lost:
        raise lost[0]


async def _run_fast(sender: RTCRtpSender, codec: Any, retransmit: _Retransmitter) -> None:
    getattr(sender, _SENDER + "rtp_started").set()
    out = _Transmitter(sender, codec, retransmit)
    try:
        pushing = _push_source(sender)
        if pushing is not None:
            await _run_push(sender, codec, out, *pushing)
            if getattr(sender, _SENDER + "track") is None:
                return
        while True:
            if getattr(sender, _SENDER + "track") is None:
                await asyncio.sleep(0.02)
                continue
            frame = await sender._next_encoded_frame(codec)
            if frame is None:
                continue
            out.send(frame.payloads, frame.timestamp)
    except (asyncio.CancelledError, ConnectionError, MediaStreamError):
        pass
    except Exception:
        log.warning("fast RTP sender failed", exc_info=True)
    finally:
        track = getattr(sender, _SENDER + "track")
        if track is not None:
            track.stop()
            setattr(sender, _SENDER + "track", None)
        setattr(sender, _SENDER + "encoder", None)
        getattr(sender, _SENDER + "rtp_exited").set()


__all__ = [
    "FastReceive",
    "PacketHandler",
    "RtpHeader",
    "RtpWriter",
    "fast_sender",
    "parse_header",
    "send_rtcp_now",
    "send_rtp_now",
]
