"""The few places where pexbot reaches into aiortc's private parts, each guarded and explained.

Every helper checks that the attribute it touches exists and has the expected type, and does
nothing (returning False) otherwise, so a newer aiortc degrades to its own behaviour instead of
breaking calls. They were written against aiortc 1.16 (``TESTED_VERSIONS``); re-check them when
aiortc moves.

- :func:`lower_audio_prefetch`: aiortc hardcodes ``JitterBuffer(capacity=16, prefetch=4)`` for
  audio in ``RTCRtpReceiver.__init__``: four 20 ms packets are held before the first one is
  decoded, ~80 ms of audio latency per receiving hop that video (prefetch 0) does not have, so
  recordings drift out of A/V sync. Two packets keep a little tolerance for reordering (with
  one, the measured offset varied more): in the recording test (one aiortc hop in the
  emulator, one in the bot) the A/V offset went from +62..+78 ms to +22..+28 ms with the bot's
  receivers lowered, -15..-20 ms with the emulator's too.
- :func:`count_rtp`: aiortc's inbound stats have no byte counts and key every SSRC of a receiver
  (RTX included) under one id, so the call counts what arrives itself, at the receiver's packet
  handler.
- :func:`detach_senders`: an aiortc sender stops its track when it stops, and a long-lived
  outgoing track must survive the peer connection it was sent on (a rebuilt connection sends it
  again).
- :func:`selected_pair`: the addresses ICE settled on (diagnostics, tests).
- :func:`rollback_local_offer`: aiortc has no ``setLocalDescription({type: "rollback"})``
  (#975), which perfect negotiation needs: the polite end of a direct-media call drops its own
  re-offer when the far end's offer crosses it. A re-offer on a live connection (same ICE
  credentials, same mids, roles already set) changes nothing in aiortc but the signalling state
  and the pending local description, so putting those two back is a complete rollback; the
  connection and its media carry on untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiortc
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

log = logging.getLogger(__name__)

TESTED_VERSIONS = ("1.16",)
#: audio packets the receiver holds back before decoding (aiortc's own value is 4)
AUDIO_PREFETCH = 2
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_PENDING_LOCAL = "_RTCPeerConnection__pendingLocalDescription"
_CURRENT_LOCAL = "_RTCPeerConnection__currentLocalDescription"
_SIGNALING = "_RTCPeerConnection__signalingState"
_AUDIO_CAPACITY = 16

Address = tuple[str, int]


def aiortc_tested() -> bool:
    """Whether the installed aiortc is a version these helpers were checked against."""
    return any(aiortc.__version__.startswith(v + ".") for v in TESTED_VERSIONS)


def lower_audio_prefetch(receiver: RTCRtpReceiver, prefetch: int | None = None) -> bool:
    """Give an audio receiver a jitter buffer with ``prefetch`` (default
    :data:`AUDIO_PREFETCH`) packets of prefetch.

    Only before the first packet arrived (the buffer is still empty), so nothing is lost.
    Returns whether the receiver has that prefetch or less now.
    """
    if prefetch is None:
        prefetch = AUDIO_PREFETCH
    if getattr(receiver, "_RTCRtpReceiver__kind", None) != "audio" or not aiortc_tested():
        return False
    current = getattr(receiver, _JITTER_ATTR, None)
    if not isinstance(current, JitterBuffer) or current._origin is not None:
        return False
    if current._prefetch <= prefetch:
        return True
    setattr(receiver, _JITTER_ATTR, JitterBuffer(capacity=_AUDIO_CAPACITY, prefetch=prefetch))
    return True


class RtpObserver(Protocol):
    def packet(self, packet: RtpPacket, arrival_ms: int) -> None: ...


def count_rtp(receiver: RTCRtpReceiver, observer: RtpObserver) -> bool:
    """Show every RTP packet routed to ``receiver`` to ``observer`` first (on the event loop).

    Wraps the receiver's packet handler on the instance (aiortc's transport looks it up on
    the receiver object). Returns False when the handler is not where it is expected.
    """
    if not aiortc_tested():
        return False
    handler: Callable[[RtpPacket, int], Awaitable[None]] | None = getattr(
        receiver, "_handle_rtp_packet", None
    )
    if handler is None or getattr(handler, "_pexbot_counted", False):
        return False

    async def counted(packet: RtpPacket, arrival_time_ms: int) -> None:
        try:
            observer.packet(packet, arrival_time_ms)
        except Exception:  # statistics must never cost a packet
            log.exception("RTP observer failed")
        await handler(packet, arrival_time_ms)

    counted._pexbot_counted = True  # type: ignore[attr-defined]
    receiver._handle_rtp_packet = counted  # type: ignore[method-assign]
    return True


def detach_senders(pc: RTCPeerConnection) -> None:
    """Take every track off ``pc``'s senders, so that closing ``pc`` does not stop them."""
    for transceiver in pc.getTransceivers():
        if transceiver.sender.track is not None:
            transceiver.sender.replaceTrack(None)


def selected_pair(pc: RTCPeerConnection) -> tuple[Address, Address] | None:
    """(local, remote) address of the candidate pair ICE nominated, if any."""
    for transceiver in pc.getTransceivers():
        transport: Any = transceiver.receiver.transport.transport
        connection = getattr(transport, "_connection", None)
        nominated = getattr(connection, "_nominated", None)
        if not nominated:
            continue
        pair = next(iter(nominated.values()))
        (lhost, lport), (rhost, rport) = pair.local_addr, pair.remote_addr
        return (str(lhost), int(lport)), (str(rhost), int(rport))
    return None


def ice_credentials(pc: RTCPeerConnection) -> tuple[str, str] | None:
    """Our ICE ufrag and pwd on ``pc`` (every transceiver shares them under MAX_BUNDLE)."""
    for transceiver in pc.getTransceivers():
        gatherer = transceiver.receiver.transport.transport.iceGatherer
        parameters = gatherer.getLocalParameters()
        if parameters.usernameFragment and parameters.password:
            return parameters.usernameFragment, parameters.password
    return None


LocalDescriptions = tuple[object, object]


def local_descriptions(pc: RTCPeerConnection) -> LocalDescriptions | None:
    """``pc``'s (pending, current) local descriptions, to roll back to (None: not reachable)."""
    if not (hasattr(pc, _PENDING_LOCAL) and hasattr(pc, _CURRENT_LOCAL)):
        return None
    return getattr(pc, _PENDING_LOCAL), getattr(pc, _CURRENT_LOCAL)


def rollback_local_offer(pc: RTCPeerConnection, saved: LocalDescriptions) -> bool:
    """Undo our last ``setLocalDescription(offer)``, made on a live connection when
    :func:`local_descriptions` returned ``saved``: back to ``stable``. False if not possible."""
    if pc.signalingState != "have-local-offer" or getattr(pc, _SIGNALING, None) is None:
        return False
    pending, current = saved
    setattr(pc, _PENDING_LOCAL, pending)
    setattr(pc, _CURRENT_LOCAL, current)
    setattr(pc, _SIGNALING, "stable")
    pc.emit("signalingstatechange")
    return True
