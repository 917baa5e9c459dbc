"""The emulator's real media backend: every ``/calls`` answered by an aiortc peer connection.

Each call gets a :class:`~.media_aiortc_router.Leg` whose outputs are long-lived tracks gated on
the ``ack`` (nothing is sent before it, like Infinity), and a per-room
:class:`~.media_aiortc_router.MediaRouter` decides what each leg receives. The default
:class:`~.media_aiortc_router.RelayRouter` relays the other participant's media 1:1;
``router_factory=compose_router_factory(...)`` (:mod:`.compositor`) makes a transcoding
conference. The backend is also a :class:`~.media.ComposingBackend`: it passes the node's views
to the routers, their voice activity to the node, and moves calls with their participant
between rooms; and a :class:`~.media.PolicyBackend`: each room's mute and presentation policy
goes to its router (kept for a router made later, like the views).

The answerer uses ``MAX_COMPAT``: it follows the offer's BUNDLE group when there is one (all
m-lines then share the first transport) and still works with an unbundled offer. Offers are
cleaned for aiortc first (:func:`pexbot.rtc.sdp.sanitise_remote`), and their candidates copied
across the bundle (aiortc #1437), so offers from browsers work as well as pexbot's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from pexbot.errors import NegotiationError
from pexbot.rtc import aiortc_compat, ice, prompt_start
from pexbot.rtc.sdp import MediaRole, Sdp, add_content, section_roles
from pexbot.rtc.sdp_codecs import VideoCodec, prefer_video_codec
from pexbot.rtc.sdp_remote import candidate_usable, copy_candidates_to_bundle, sanitise_remote
from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack, SendingTrack

from .backend import CallContext, MediaPolicy, MediaView, VoiceListener
from .cards import WaitingCard
from .router import Leg, MediaRouter, OutputTrack, RelayRouter

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Peer:
    leg: Leg
    pc: RTCPeerConnection
    gate: asyncio.Event
    roles: list[MediaRole | None]
    ufrag: str | None = None  # the caller's ICE ufrag in its last offer


class AiortcMediaBackend:
    """MediaBackend answering each call with aiortc and routing media per room."""

    def __init__(
        self,
        *,
        router_factory: Callable[[str], MediaRouter] = RelayRouter,
        ice_servers: Sequence[RTCIceServer] = (),
        video_codec: VideoCodec | None = None,
        card_size: tuple[int, int] = (640, 360),
        fps: float = 15.0,
    ) -> None:
        self._router_factory = router_factory
        self._ice_servers = list(ice_servers)
        #: None: send with the offer's first codec (follow the caller)
        self._video_codec = video_codec
        self._card = WaitingCard()
        self._card_size = card_size
        self._fps = fps
        self._peers: dict[str, _Peer] = {}
        self._routers: dict[str, MediaRouter] = {}
        self._room_calls: dict[str, set[str]] = {}
        self._views: dict[str, dict[str, MediaView]] = {}  # by room, for routers made later
        self._policies: dict[str, MediaPolicy] = {}  # likewise
        self._voice: VoiceListener | None = None
        self._moves: set[asyncio.Task[None]] = set()
        #: legs fed in-process (built-in participants), by call uuid
        self._sources: dict[str, Leg] = {}
        self._closed = False

    # --- inspection (tests, diagnostics) -------------------------------------------------

    def leg(self, call_uuid: str) -> Leg:
        return self._peers[call_uuid].leg

    def peer_connection(self, call_uuid: str) -> RTCPeerConnection:
        return self._peers[call_uuid].pc

    def router(self, room: str) -> MediaRouter | None:
        return self._routers.get(room)

    # --- MediaBackend ----------------------------------------------------------------------

    async def open_call(self, call: CallContext, offer_sdp: str) -> str:
        if not offer_sdp.lstrip().startswith("v=0") or "\nm=" not in offer_sdp:
            raise NegotiationError(
                f"call {call.call_uuid}: the offer is not an SDP with media sections"
            )
        if call.call_uuid in self._peers:
            await self.close_call(call.call_uuid)
        pc = self._new_pc()
        gate = asyncio.Event()
        roles = section_roles(offer_sdp)
        outputs: dict[MediaRole, OutputTrack] = {
            role: self._output(role, gate) for role in roles if role is not None
        }
        leg = Leg(call, outputs)
        peer = _Peer(leg, pc, gate, roles)
        self._watch(peer)
        self._peers[call.call_uuid] = peer
        self._join(leg)
        try:
            return await self._answer(peer, offer_sdp)
        except BaseException:
            await self.close_call(call.call_uuid)
            raise

    async def add_remote_candidate(self, call_uuid: str, candidate: str, mid: str | None) -> None:
        peer = self._peers.get(call_uuid)
        if peer is None:
            # Pexip's client posts the candidates of a discarded peer connection too.
            log.debug("candidate for unknown call %s ignored", call_uuid)
            return
        if candidate and not candidate_usable(candidate):
            return
        parsed = ice.remote_candidate(candidate, ice.transport_mid(peer.pc, mid))
        await peer.pc.addIceCandidate(parsed)

    async def ack(self, call_uuid: str) -> None:
        peer = self._peers.get(call_uuid)
        if peer is not None:
            peer.gate.set()

    async def update_call(self, call_uuid: str, offer_sdp: str) -> str:
        peer = self._peers.get(call_uuid)
        if peer is None:
            raise NegotiationError(f"update for call {call_uuid}, which has no media session")
        if _ufrag(offer_sdp) != peer.ufrag or peer.pc.signalingState == "closed":
            # New ICE credentials: the caller built a new peer connection (aiortc, like
            # pexbot, cannot restart ICE), so must we; the leg and its outputs stay.
            old, peer.pc = peer.pc, self._new_pc()
            self._watch(peer)
            aiortc_compat.detach_senders(old)
            await old.close()
        return await self._answer(peer, offer_sdp)

    async def close_call(self, call_uuid: str) -> None:
        peer = self._peers.pop(call_uuid, None)
        if peer is None:
            return
        await self._leave(peer.leg)
        with contextlib.suppress(Exception):
            await peer.pc.close()
        for output in peer.leg.outputs.values():
            output.stop()

    async def layout_changed(self, conference_id: str, layout: str) -> None:
        router = self._routers.get(conference_id)
        if router is not None:
            router.layout_changed(layout)

    # --- in-process sources (built-in participants, .builtin) ------------------------------

    @property
    def source_format(self) -> tuple[tuple[int, int], float]:
        """The picture size and rate the node sends, which in-process sources should match."""
        return self._card_size, self._fps

    def add_source_leg(
        self, call: CallContext, inputs: Mapping[MediaRole, MediaStreamTrack]
    ) -> Leg:
        """A leg with no peer connection whose inputs are tracks made in-process: the room's
        router reads them like a caller's decoded media. It receives nothing (no outputs)."""
        if call.call_uuid in self._peers or call.call_uuid in self._sources:
            raise ValueError(f"call {call.call_uuid} already has a leg")
        leg = Leg(call, {}, dict(inputs), sending=set(inputs))
        self._sources[call.call_uuid] = leg
        self._join(leg)
        self._routers[leg.room].inputs_changed(leg)
        return leg

    async def remove_source_leg(self, call_uuid: str) -> None:
        leg = self._sources.pop(call_uuid, None)
        if leg is not None:
            await self._leave(leg)

    # --- ComposingBackend -------------------------------------------------------------------

    def set_views(self, room_id: str, views: Mapping[str, MediaView]) -> None:
        self._views[room_id] = dict(views)
        router = self._routers.get(room_id)
        if router is not None:
            router.views_changed(views)

    # --- PolicyBackend ----------------------------------------------------------------------

    def set_policy(self, room_id: str, policy: MediaPolicy) -> None:
        self._policies[room_id] = policy
        router = self._routers.get(room_id)
        if router is not None:
            router.policy_changed(policy)

    def set_voice_listener(self, listener: VoiceListener | None) -> None:
        self._voice = listener
        for room, router in self._routers.items():
            router.watch_voice(self._voice_callback(room))

    def participant_moved(self, participant_uuid: str, room_id: str) -> None:
        legs = [
            p.leg
            for p in self._peers.values()
            if p.leg.call.participant_uuid == participant_uuid and p.leg.room != room_id
        ]
        if legs and not self._closed:
            task = asyncio.get_running_loop().create_task(self._move(legs, room_id))
            self._moves.add(task)
            task.add_done_callback(self._moves.discard)

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._moves):
            task.cancel()
        await asyncio.gather(*self._moves, return_exceptions=True)
        for call_uuid in list(self._peers):
            await self.close_call(call_uuid)
        for call_uuid in list(self._sources):
            await self.remove_source_leg(call_uuid)
        for router in self._routers.values():
            await router.aclose()
        self._routers.clear()

    # --- internals -----------------------------------------------------------------------

    def _join(self, leg: Leg) -> None:
        room = leg.room
        router = self._routers.get(room)
        if router is None:
            router = self._routers[room] = self._router_factory(room)
            router.watch_voice(self._voice_callback(room))
            views = self._views.get(room)
            if views is not None:
                router.views_changed(views)
            policy = self._policies.get(room)
            if policy is not None:
                router.policy_changed(policy)
        self._room_calls.setdefault(room, set()).add(leg.call.call_uuid)
        router.leg_added(leg)

    async def _leave(self, leg: Leg) -> None:
        room = leg.room
        router = self._routers.get(room)
        if router is not None:
            await router.leg_removed(leg)
        calls = self._room_calls.get(room, set())
        calls.discard(leg.call.call_uuid)
        if not calls:
            self._room_calls.pop(room, None)
            self._views.pop(room, None)
            self._policies.pop(room, None)
            router = self._routers.pop(room, None)
            if router is not None:
                await router.aclose()

    async def _move(self, legs: list[Leg], room_id: str) -> None:
        for leg in legs:
            if self._peers.get(leg.call.call_uuid, None) is None:
                continue  # closed meanwhile
            await self._leave(leg)
            if self._peers.get(leg.call.call_uuid, None) is None:
                continue
            leg.call = dataclasses.replace(leg.call, room_id=room_id)
            self._join(leg)
            self._routers[room_id].inputs_changed(leg)

    def _voice_callback(self, room: str) -> Callable[[str, bool], None] | None:
        if self._voice is None:
            return None
        return functools.partial(self._voice.voice_activity, room)

    def _new_pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(
            RTCConfiguration(iceServers=self._ice_servers, bundlePolicy=RTCBundlePolicy.MAX_COMPAT)
        )

    def _watch(self, peer: _Peer) -> None:
        pc = peer.pc
        pc.on("track", lambda track: self._track_arrived(peer, track) if peer.pc is pc else None)

    def _output(self, role: MediaRole, gate: asyncio.Event) -> OutputTrack:
        if role == "audio":
            return OutgoingAudioTrack(gate=gate)
        return OutgoingVideoTrack(filler=self._card, size=self._card_size, fps=self._fps, gate=gate)

    async def _answer(self, peer: _Peer, offer_sdp: str) -> str:
        offer = sanitise_remote(offer_sdp)
        if self._video_codec is not None:
            offer = prefer_video_codec(offer, self._video_codec)
        offer = copy_candidates_to_bundle(offer)
        peer.ufrag = _ufrag(offer)
        pc, leg = peer.pc, peer.leg
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            self._remote_description_set(pc, leg, peer.roles)  # no await before: see there
            # As prompt as a real node: no ICE pacing wait, and audio no later than the video
            # of a caller whose receivers hand pictures over at their last packet.
            prompt_start.unpaced_ice_completion(pc)
            for transceiver in pc.getTransceivers():
                aiortc_compat.lower_audio_prefetch(transceiver.receiver)
                # Video keeps aiortc's own buffer (a frame leaves when the next one starts: the
                # A/V balance recordings through the node are measured against), but the frames
                # a repaired hole held back leave at once, not one per later packet.
                prompt_start.drain_backlog(transceiver.receiver)
            directions = [s.direction or "sendrecv" for s in Sdp.parse(offer).media]
            leg.sending.clear()
            leg.receiving.clear()
            for transceiver in pc.getTransceivers():
                index = _mline(transceiver)
                role = peer.roles[index] if index < len(peer.roles) else None
                if role is None:
                    transceiver.direction = "inactive"
                    continue
                if transceiver.sender.track is None:
                    # A view: aiortc stops a sender's track when its connection goes down.
                    transceiver.sender.replaceTrack(self._sender_track(leg, role))
                # The answer is this AND the offer's reverse: it mirrors what the caller asks.
                transceiver.direction = "sendrecv"
                if directions[index] in ("sendrecv", "sendonly"):
                    leg.sending.add(role)
                if directions[index] in ("sendrecv", "recvonly"):
                    leg.receiving.add(role)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except Exception as exc:
            raise NegotiationError(
                f"call {leg.call.call_uuid}: offer could not be answered "
                f"(signalling state {pc.signalingState}): {exc!r}"
            ) from exc
        router = self._routers.get(leg.room)
        if router is not None:
            router.inputs_changed(leg)
        return add_content(pc.localDescription.sdp, peer.roles)

    # --- hooks for subclasses (.forward) ---------------------------------------------------

    def _remote_description_set(
        self, pc: RTCPeerConnection, leg: Leg, roles: Sequence[MediaRole | None]
    ) -> None:
        """Called right after each offer is applied, before any receiver of ``pc`` starts
        (the place to tap receivers, :func:`pexbot.rtc.encoded.tap_encoded`)."""

    def _sender_track(self, leg: Leg, role: MediaRole) -> MediaStreamTrack:
        """What a new sender of ``leg`` sends on ``role``: a view of its long-lived output."""
        return SendingTrack(leg.outputs[role])

    def _track_arrived(self, peer: _Peer, track: MediaStreamTrack) -> None:
        # Stored only: _answer tells the router once directions are known too.
        for transceiver in peer.pc.getTransceivers():
            index = _mline(transceiver)
            if transceiver.receiver.track is track and index < len(peer.roles):
                role = peer.roles[index]
                if role is not None:
                    peer.leg.inputs[role] = track
                return


def _mline(transceiver: RTCRtpTransceiver) -> int:
    # The m-line index, not the position among transceivers (a data channel m-line may sit
    # between media lines).
    index = transceiver._get_mline_index()
    return int(index) if index is not None else 1_000_000


def _ufrag(sdp: str) -> str | None:
    parsed = Sdp.parse(sdp)
    return parsed.ice_credentials(0)[0] if parsed.media else None
