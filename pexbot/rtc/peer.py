"""One peer connection of a media call: a *generation*.

A :class:`~pexbot.call.MediaCall` may go through several ``RTCPeerConnection`` s: aiortc cannot
restart ICE, so a restart is a new connection, and a new direct-media far end gets one too. A
:class:`Peer` is one of them. It is built around the call's long-lived parts, which it borrows
and never ends: the outgoing tracks (:mod:`pexbot.rtc.tracks`; its senders get a
:class:`~pexbot.rtc.tracks.SendingTrack` view of each, since aiortc stops a sender's track when the
connection goes down, the far end closing it included), one RTP counter per m-line
(:mod:`pexbot.rtc.rtp_counter`) and the data channel (:mod:`pexbot.rtc.datachannel`). Remote
tracks it receives are announced with their role, so the call can feed them to its incoming tracks.

Transceivers are added in the Pexip order (audio, main video, presentation, then the data
channel), which also makes them line up with a remote offer's m-lines: aiortc gives each
offered m-line the first unused transceiver of its kind.

Remote SDP is cleaned for aiortc before it is applied (:mod:`pexbot.rtc.sdp_remote`), and remote
candidates wait until a remote description is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from pexbot.errors import NegotiationError

from . import aiortc_compat, encoded, ice, prompt_start, sdp_remote
from .datachannel import PexChannel
from .encoded_fast import fast_encoded_receive
from .raw_stats import RawStream, StreamName
from .repair_fast import repairing_encoded_receive
from .rtp_counter import RtpReceiveCounter
from .rtp_fast import FastReceive, fast_sender
from .sdp import (
    DIRECTIONS,
    Direction,
    MediaRole,
    Sdp,
    add_content,
    mids,
    section_roles,
    sections_without_ssrc,
)
from .sdp_codecs import VideoCodec, prefer_video_codec
from .tracks import OutgoingAudioTrack, OutgoingVideoTrack, SendingTrack

log = logging.getLogger(__name__)

STREAM_OF: dict[MediaRole, StreamName] = {
    "audio": "audio",
    "video": "video",
    "slides": "presentation",
}
MAX_PENDING_CANDIDATES = 200
Outgoing = OutgoingAudioTrack | OutgoingVideoTrack
#: (peer, role or None for an m-line we did not offer, remote track)
TrackCallback = Callable[["Peer", MediaRole | None, MediaStreamTrack], None]


class Peer:
    """One ``RTCPeerConnection`` of a call; see the module docstring."""

    def __init__(
        self,
        generation: int,
        configuration: RTCConfiguration,
        *,
        roles: list[MediaRole],
        outgoing: Mapping[MediaRole, Outgoing],
        counters: Mapping[MediaRole, RtpReceiveCounter],
        on_track: TrackCallback,
        channel: PexChannel | None = None,
        video_codec: VideoCodec | None = "h264",
        munge_remote: bool = True,
        encoded_receive: bool = False,
        fast_rtp: bool = False,
        fast_send: bool = False,
        fast_repair: bool = False,
    ) -> None:
        self.generation = generation
        self.roles = roles
        self.configuration = configuration
        self.pc = RTCPeerConnection(configuration)
        self._outgoing = outgoing
        self._counters = counters
        self._on_track = on_track
        self._video_codec = video_codec  # put first in our offers (None: as aiortc has it)
        # Pexip's client munges the node's answers too, but never a direct-media far end's SDP.
        self._munge_remote = munge_remote and video_codec is not None
        #: receivers hand over frames undecoded (pexbot.rtc.encoded), tapped before they start
        self.encoded_receive = encoded_receive
        #: our senders and tapped receivers skip aiortc's per-packet machinery (rtc.rtp_fast)
        self.fast_rtp = fast_rtp
        self.fast_send = fast_rtp or fast_send or fast_repair
        #: tapped receivers on the shortcut with NACKs and reordering (rtc.repair_fast): a recorder
        self.fast_repair = fast_repair and not fast_rtp
        self._taps: dict[MediaRole, encoded.TapStats] = {}
        self._fast: FastReceive | None = None
        self._fast_roles: set[MediaRole] = set()
        self._transceivers: dict[MediaRole, RTCRtpTransceiver] = {}
        self._pending: list[tuple[str, str | None]] = []
        self.remote_applied = False
        #: the remote description as applied (cleaned), and the local one as sent
        self.remote_sdp: str | None = None
        self.local_sdp: str | None = None
        self.closed = False
        self._before_offer: aiortc_compat.LocalDescriptions | None = None
        self.pc.on("track", self._track_arrived)
        for role in roles:
            self._add(role)
        if channel is not None:
            channel.attach(self.pc)
        prompt_start.unpaced_ice_completion(self.pc)

    def __repr__(self) -> str:
        return (
            f"Peer(#{self.generation}, {self.pc.signalingState}, ICE {self.pc.iceConnectionState},"
            f" {self.pc.connectionState})"
        )

    def _add(self, role: MediaRole) -> None:
        # Pexip's client offers the presentation line inactive until someone presents.
        direction: Direction = "inactive" if role == "slides" else "sendrecv"
        # A view per connection: aiortc stops a sender's track when the sender stops.
        sending = SendingTrack(self._outgoing[role])
        transceiver = self.pc.addTransceiver(sending, direction=direction)
        aiortc_compat.lower_audio_prefetch(transceiver.receiver)
        prompt_start.complete_frames_at_marker(transceiver.receiver)
        aiortc_compat.count_rtp(transceiver.receiver, self._counters[role])
        _count_feedback(transceiver.receiver, self._counters[role])
        if self.encoded_receive:
            tap = encoded.tap_encoded(transceiver.receiver)
            if tap is not None:
                self._taps[role] = tap
        if self.fast_send:
            fast_sender(transceiver.sender)
        # A source fed as packets must hear the far end's PLI/FIR itself.
        encoded.on_keyframe_request(transceiver.sender, self._outgoing[role].keyframe_requested)
        self._transceivers[role] = transceiver

    def transceiver(self, role: MediaRole) -> RTCRtpTransceiver:
        return self._transceivers[role]

    def negotiated_direction(self, role: MediaRole) -> Direction | None:
        """The direction ``role``'s m-line was last negotiated with (None: not yet)."""
        transceiver = self._transceivers.get(role)
        direction = transceiver.currentDirection if transceiver is not None else None
        for known in DIRECTIONS:
            if direction == known:
                return known
        return None

    @property
    def ice_state(self) -> str:
        return str(self.pc.iceConnectionState)

    @property
    def connected(self) -> bool:
        return bool(self.pc.connectionState == "connected")

    # --- our offers --------------------------------------------------------------------------

    async def create_offer(self, slides: Direction | None = None) -> str:
        """createOffer (codec preference applied): the text to set as local description."""
        if slides is not None and "slides" in self._transceivers:
            self._transceivers["slides"].direction = slides
        offer = await self.pc.createOffer()
        return self._munge_local(offer.sdp)

    async def set_local_offer(self, text: str) -> None:
        """setLocalDescription: aiortc gathers every candidate in here."""
        renegotiating = self.remote_applied and self.pc.signalingState == "stable"
        self._before_offer = aiortc_compat.local_descriptions(self.pc) if renegotiating else None
        await self.pc.setLocalDescription(RTCSessionDescription(text, "offer"))

    def rollback(self) -> bool:
        """Take back our pending re-offer of this live connection (perfect negotiation's
        rollback): True when the connection is ``stable`` again, as before the offer. False
        for a first offer, or when aiortc's internals are not the expected ones."""
        saved, self._before_offer = self._before_offer, None
        if saved is None or self.closed:
            return False
        return aiortc_compat.rollback_local_offer(self.pc, saved)

    def local_description(self) -> str:
        """Our current local description, with candidates, as Pexip expects it."""
        text = self._munge_local(self.pc.localDescription.sdp)
        self.local_sdp = add_content(text, self.roles)
        return self.local_sdp

    def _munge_local(self, text: str) -> str:
        return prefer_video_codec(text, self._video_codec) if self._video_codec else text

    async def apply_answer(self, sdp: str, offer: str) -> None:
        """The far end's answer to ``offer``: cleaned, candidates spread over the bundle."""
        answer = sdp_remote.sanitise_remote(sdp, local_offer=offer)
        if self._munge_remote and self._video_codec:
            answer = prefer_video_codec(answer, self._video_codec)
        # MAX_BUNDLE: every m-line of ours is on one transport, whatever the answer groups.
        answer = sdp_remote.copy_candidates_to_bundle(answer, mids(answer))
        missing = sections_without_ssrc(answer)
        if missing:
            log.warning("answer names no SSRC for mids %s: nothing will arrive on them", missing)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as exc:  # aiortc raises ValueError, AssertionError, OperationError...
            raise NegotiationError(f"the far end's answer could not be applied: {exc!r}") from exc
        await self._remote_set(answer)

    # --- their offers ------------------------------------------------------------------------

    async def answer_offer(self, sdp: str, *, presenting: bool) -> str:
        """Apply a remote offer, answer it; returns the answer to send (``ack {sdp}``).

        The presentation line mirrors the offer (Pexip's direct-media ``relativeDirection``):
        it receives when the far end sends, sends when we present, else neither.
        """
        offer = sdp_remote.copy_candidates_to_bundle(sdp_remote.sanitise_remote(sdp))
        slides = self._transceivers.get("slides")
        if slides is not None:
            # An offer that sends slides comes from whoever took the floor last: it wins even
            # over our own presenting, which the node's presentation_start is about to end.
            offered = _offered_direction(offer, "slides")
            theirs = offered in ("sendonly", "sendrecv")
            slides.direction = "sendonly" if presenting and not theirs else "recvonly"
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            prompt_start.unpaced_ice_completion(self.pc)  # transports the offer added
            if self.encoded_receive:  # before any await: the new receivers start in a task
                for transceiver in self.pc.getTransceivers():
                    if transceiver not in self._transceivers.values():
                        encoded.tap_encoded(transceiver.receiver)
            await self._remote_set(offer)
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
        except Exception as exc:
            raise NegotiationError(
                f"the far end's offer could not be answered "
                f"(signalling state {self.pc.signalingState}): {exc!r}"
            ) from exc
        for transceiver in self.pc.getTransceivers():
            if transceiver not in self._transceivers.values():
                aiortc_compat.lower_audio_prefetch(transceiver.receiver)
                prompt_start.complete_frames_at_marker(transceiver.receiver)
        self.local_sdp = add_content(self.pc.localDescription.sdp, section_roles(offer))
        return self.local_sdp

    async def _remote_set(self, applied: str) -> None:
        self.remote_sdp = applied
        self.remote_applied = True
        for role, transceiver in self._transceivers.items():
            self._counters[role].codecs.update(
                {
                    c.payloadType: (c.mimeType.split("/", 1)[1], c.clockRate)
                    for c in transceiver._codecs
                    if c.payloadType is not None
                }
            )
        self._fast_receive()
        pending, self._pending = self._pending, []
        for candidate, mid in pending:
            await self._apply_candidate(candidate, mid)

    def _fast_receive(self) -> None:
        """Tapped receivers onto the fast path, once the bundle's transport is known."""
        if not (self.fast_rtp or self.fast_repair):
            return
        for role, tap in self._taps.items():
            if role in self._fast_roles:
                continue
            receiver = self._transceivers[role].receiver
            if self._fast is None:
                self._fast = FastReceive.install(receiver.transport)
                if self._fast is None:
                    return
            if receiver.transport is not self._fast.dtls:
                continue  # not bundled on that transport: aiortc's own path
            counter = self._counters[role]
            if self.fast_repair:
                on = repairing_encoded_receive(self._fast, receiver, counter, tap) is not None
            else:
                on = fast_encoded_receive(self._fast, receiver, counter, tap) is not None
            if on:
                self._fast_roles.add(role)

    @property
    def fast_packets(self) -> int:
        """Packets received by the fast path (0 without it)."""
        return self._fast.fast_packets if self._fast is not None else 0

    def remote_ice_ufrag(self) -> str | None:
        """The ICE ufrag of the applied remote description (first m-line)."""
        if self.remote_sdp is None:
            return None
        parsed = Sdp.parse(self.remote_sdp)
        return parsed.ice_credentials(0)[0] if parsed.media else None

    # --- candidates --------------------------------------------------------------------------

    def local_candidates(self, *, relay_only: bool) -> list[Any]:
        return ice.local_candidates(self.pc, relay_only=relay_only)

    async def add_candidate(self, candidate: str, mid: str | None) -> None:
        """A trickled remote candidate (``""``: end of candidates), held until a remote
        description is set."""
        if not self.remote_applied:
            if len(self._pending) < MAX_PENDING_CANDIDATES:
                self._pending.append((candidate, mid))
            return
        await self._apply_candidate(candidate, mid)

    async def _apply_candidate(self, candidate: str, mid: str | None) -> None:
        if candidate and not sdp_remote.candidate_usable(candidate):
            log.debug("skipping remote candidate aiortc cannot use")
            return
        parsed = ice.remote_candidate(candidate, ice.transport_mid(self.pc, mid))
        await self.pc.addIceCandidate(parsed)

    async def request_keyframe(self, role: MediaRole) -> int:
        """A PLI to every source heard on ``role``'s m-line; how many were asked."""
        transceiver = self._transceivers.get(role)
        if transceiver is None or self.closed:
            return 0
        return await encoded.request_keyframe(transceiver.receiver)

    # --- statistics ----------------------------------------------------------------------------

    async def tx_stats(self, role: MediaRole) -> RawStream:
        """What this connection's sender of ``role`` reports (packets, bytes, far-end RR)."""
        transceiver = self._transceivers.get(role)
        if transceiver is None or self.closed:
            return RawStream(tx_generation=self.generation)
        report = await transceiver.sender.getStats()
        packets = bytes_ = 0
        lost: int | None = None
        jitter: float | None = None
        codecs = transceiver._codecs
        rate = codecs[0].clockRate if codecs else 0
        for stats in report.values():
            if stats.type == "outbound-rtp":
                packets, bytes_ = stats.packetsSent, stats.bytesSent
            elif stats.type == "remote-inbound-rtp":
                lost = stats.packetsLost
                jitter = stats.jitter * 1000 / rate if rate else None
        sending = transceiver.currentDirection in ("sendrecv", "sendonly")
        codec = codecs[0].mimeType.split("/", 1)[1] if codecs and sending else None
        return RawStream(
            tx_generation=self.generation,
            tx_packets=packets,
            tx_bytes=bytes_,
            tx_codec=codec,
            tx_remote_lost=lost,
            tx_remote_jitter_ms=jitter,
        )

    # --- events and teardown -------------------------------------------------------------------

    def _track_arrived(self, track: MediaStreamTrack) -> None:
        role: MediaRole | None = None
        for name, transceiver in self._transceivers.items():
            if transceiver.receiver.track is track:
                role = name
        self._on_track(self, role, track)

    async def close(self) -> None:
        """Close the connection without ending the call's tracks. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._fast is not None:
            self._fast.close()
        aiortc_compat.detach_senders(self.pc)
        await self.pc.close()


def _count_feedback(receiver: Any, counter: RtpReceiveCounter) -> None:
    """Count the NACKs and PLIs ``receiver`` sends (wrapped on this object only)."""
    send_nack = getattr(receiver, "_send_rtcp_nack", None)
    send_pli = getattr(receiver, "_send_rtcp_pli", None)
    if send_nack is None or send_pli is None:
        return

    async def nack(media_ssrc: int, lost: list[int]) -> None:
        counter.nacks += 1
        counter.nacked_packets += len(lost)
        await send_nack(media_ssrc, lost)

    async def pli(media_ssrc: int) -> None:
        counter.plis += 1
        await send_pli(media_ssrc)

    receiver._send_rtcp_nack = nack
    receiver._send_rtcp_pli = pli


def _offered_direction(offer: str, role: MediaRole) -> Direction | None:
    """The direction of ``role``'s m-line in a remote offer (None: no such line)."""
    roles = section_roles(offer)
    if role not in roles:
        return None
    return Sdp.parse(offer).media[roles.index(role)].direction or "sendrecv"
