"""Direct media: the node brokers offers, answers and candidates between two media participants
(``direct-media-flow.md``) and never touches their media (no media backend call, no RTP).

Sequencing (◆: the emulator's own choice where the flow leaves one open):

1. A ``/calls`` with no far end: ``{call_uuid, sdp: "", offer_ignored: true}``; the offer is
   discarded (its candidates are dropped), the participant waits and gets ``splash_screen
   {screen_key: "direct_media_welcome"}`` (◆ ``direct_media_waiting_for_host`` for a Guest while
   no Host is in the conference).
2. The next participant's ``/calls``: the waiting one gets ``new_offer {sdp}``; the ``/calls``
   is held until it acks.
3. ``ack {sdp: A}`` answers the held ``/calls`` with ``{call_uuid, sdp: A}``; then both get
   ``splash_screen`` null (◆ ``direct_media_other_participants_audio_only`` to a video
   participant whose far end is audio only). The offerer's own ``ack {}`` changes nothing.
4. ``new_candidate`` POSTs reach the far end as ``new_candidate {candidate, mid, ufrag, pwd}``
   (pwd from the sender's SDP); which are relayed, held or dropped: :mod:`.direct_media_legs`.
5. ``update {sdp}`` → ``update_sdp {sdp}`` to the far end (◆ ``new_offer`` if those two never
   completed an offer/answer), held until its ``ack {sdp}``, whose SDP is the update's result
   (``{call_uuid, sdp}``). ``ack {offer_ignored: true}`` (glare) ends the held request without
   an answer: a held ``/calls`` then returns as in step 1, a held ``update`` returns ``""``
   (which the official client ignores). ◆ A second ``update`` supersedes a held one (``""``).
6. A leg ends (``calls/<id>/disconnect``, a new ``/calls`` of the same participant, leaving,
   token expiry, the held request's HTTP client going away): the far end gets
   ``peer_disconnect`` (◆ unless it was only offering, its ``/calls`` held: that returns as in
   step 1 instead) and is back to waiting on its current call: the next ``/calls`` of anyone
   is offered to it; a fresh ``/calls`` of its own (the official ``restartCall``) also works.
7. ◆ No ``ack`` within ``direct_media_answer_timeout``: the silent side gets ``peer_disconnect``
   and waits again; a held ``/calls`` returns as in step 1; after a held ``update`` both sides
   get ``peer_disconnect``.
8. ◆ A third media participant: ``403 "Direct media conference already has two media
   participants"``; presentation as a separate call (``present``): 400.

With ``direct_media_relay: true`` every candidate is rewritten to a port of :mod:`.path_relay`
on its way to the far end (path faults); otherwise candidates and SDPs pass verbatim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from pexbot import wire
from pexbot.emulator.media.path_relay import PathRelay
from pexbot.wire.events import SplashScreenData

from .direct_media_legs import Held, Leg, Route
from .events import EventBus
from .model import BadRequestError, Call, Conference, ForbiddenError, Participant

log = logging.getLogger(__name__)

TOO_MANY = "Direct media conference already has two media participants"
NO_PRESENTATION_CALL = (
    "Direct media carries presentation inside the main call: no separate presentation calls"
)
WELCOME = "direct_media_welcome"
WAITING_FOR_HOST = "direct_media_waiting_for_host"
AUDIO_ONLY = "direct_media_other_participants_audio_only"


class DirectMediaHub:
    """Every direct-media leg of one node (by call uuid), and the path relay.

    It reads the node's participants and conferences (splash screens depend on who is there)
    and sends events on its bus; ``answer_timeout`` is how long an offer waits for its ack.
    """

    def __init__(
        self,
        bus: EventBus,
        *,
        participants: Mapping[str, Participant],
        conferences: Mapping[str, Conference],
        answer_timeout: float,
    ) -> None:
        self._bus = bus
        self._participants = participants
        self._conferences = conferences
        self._answer_timeout = answer_timeout
        self._legs: dict[str, Leg] = {}
        self.relay = PathRelay()
        self.candidates_relayed = 0
        self.candidates_dropped = 0

    # -- inspection ------------------------------------------------------------------------------

    def legs(self, conference_id: str) -> list[Leg]:
        return [leg for leg in self._legs.values() if leg.conference_id == conference_id]

    def leg(self, call_uuid: str) -> Leg | None:
        return self._legs.get(call_uuid)

    def _peer(self, leg: Leg) -> Leg | None:
        return next((other for other in self.legs(leg.conference_id) if other is not leg), None)

    # -- the call operations --------------------------------------------------------------------

    async def open(
        self, conference: Conference, participant: Participant, call: Call, body: wire.CallsBody
    ) -> wire.CallsResult:
        if call.present in ("send", "receive"):
            raise BadRequestError(NO_PRESENTATION_CALL)
        for old in [leg for leg in self._legs.values() if leg.participant_uuid == participant.uuid]:
            old.call.closed = True  # the official restartCall: a fresh /calls replaces the leg
            self.release(old.call)
        others = self.legs(conference.id)
        if len(others) >= 2:
            raise ForbiddenError(TOO_MANY)
        leg = Leg(conference.id, participant.uuid, call, conference.config.direct_media_relay)
        self._legs[call.uuid] = leg
        peer = others[0] if others else None
        if peer is None or peer.contact or peer.held is not None:
            return self._wait(leg, body.sdp)
        try:
            answer = await self._offer(leg, peer, body.sdp, "calls")
        except BaseException:
            self.release(call)
            raise
        if answer is None:
            return self._wait(leg, body.sdp)
        return wire.CallsResult(call_uuid=call.uuid, sdp=answer)

    def ack(self, call: Call, body: wire.AckBody) -> None:
        leg = self._legs.get(call.uuid)
        peer = self._peer(leg) if leg is not None else None
        if leg is None or peer is None or peer.held is None:
            return  # ack {} after an answer, or a late ack of an offer whose sender left
        held = peer.held
        if body.offer_ignored or body.sdp == "offer_ignored":
            held.settle(None)
            return
        if not body.sdp:
            return  # this leg acks an answer it got; the far end's offer still awaits its ack
        answer = self._outbound_sdp(leg, body.sdp)
        ready = leg.adopt(body.sdp)
        leg.negotiated = peer.negotiated = True
        held.settle(answer)
        for early in ready:
            self._forward(leg, peer, early)
        self._splash_connected(leg, peer)

    def candidate(self, call: Call, body: wire.NewCandidateBody) -> None:
        leg = self._legs.get(call.uuid)
        if leg is None:
            return
        peer = self._peer(leg)
        route = Route.DROP
        if peer is not None:
            route = leg.route(body, answering=peer.held is not None)
        if route is Route.RELAY and peer is not None:
            self._forward(leg, peer, body)
        elif route is Route.BUFFER:
            leg.early.append(body)
        else:
            self.candidates_dropped += 1

    async def update(self, call: Call, body: wire.UpdateBody) -> str | wire.UpdateResult:
        leg = self._legs.get(call.uuid)
        if leg is None:
            return ""
        if leg.held is not None:
            leg.held.settle(None)  # superseded by this newer offer
        peer = self._peer(leg)
        if peer is None:
            leg.discard(body.sdp)
            return ""  # nobody to negotiate with; the official client ignores ""
        answer = await self._offer(leg, peer, body.sdp, "update")
        if answer is None:
            return ""
        return wire.UpdateResult(call_uuid=call.uuid, sdp=answer)

    def release(self, call: Call) -> bool:
        """The call ended (however): tell the far end. False if it was not a direct-media leg."""
        leg = self._legs.pop(call.uuid, None)
        if leg is None:
            return False
        if leg.held is not None:
            leg.held.settle(None)
        if leg.relayed:
            self.relay.release(leg.conference_id, leg.call_uuid)
        peer = self._peer(leg)
        if peer is None:
            return True
        # A peer whose /calls is held never heard of this leg: that /calls returns empty.
        offering = peer.held is not None and peer.held.kind == "calls"
        had_far_end = peer.contact and not offering
        if peer.held is not None:
            peer.held.settle(None)
        peer.reset()
        if had_far_end:
            self._bus.send(peer.participant_uuid, "peer_disconnect", None)
            self._splash_waiting(peer)
        return True

    def close(self) -> None:
        for leg in self._legs.values():
            if leg.held is not None:
                leg.held.settle(None)
        self._legs.clear()
        self.relay.close()

    # -- helpers --------------------------------------------------------------------------------

    def _wait(self, leg: Leg, offer: str) -> wire.CallsResult:
        leg.reset()
        leg.discard(offer)
        self._splash_waiting(leg)
        return wire.CallsResult(call_uuid=leg.call_uuid, sdp="", offer_ignored=True)

    async def _offer(self, leg: Leg, peer: Leg, sdp: str, kind: str) -> str | None:
        """Send ``sdp`` of ``leg`` to ``peer``; the answer from its ack (None: none came)."""
        outbound = self._outbound_sdp(leg, sdp)
        ready = leg.adopt(sdp)
        event = "update_sdp" if kind == "update" and peer.negotiated else "new_offer"
        leg.contact = peer.contact = True
        held = Held(
            "update" if kind == "update" else "calls", asyncio.get_running_loop().create_future()
        )
        leg.held = held
        self._bus.send(peer.participant_uuid, event, {"sdp": outbound})
        for early in ready:
            self._forward(leg, peer, early)
        try:
            async with asyncio.timeout(self._answer_timeout):
                return await held.future
        except TimeoutError:
            self._answer_timed_out(leg, held)
            return None
        finally:
            if leg.held is held:
                leg.held = None

    def _answer_timed_out(self, leg: Leg, held: Held) -> None:
        log.info("direct media: no answer to call %s in time", leg.call_uuid)
        silent = [other for other in [self._peer(leg)] if other is not None]
        if held.kind == "update":
            silent.append(leg)
        for side in silent:
            if side.held is not None and side is not leg:
                side.held.settle(None)
            self._bus.send(side.participant_uuid, "peer_disconnect", None)
            side.reset()
            self._splash_waiting(side)

    def _outbound_sdp(self, leg: Leg, sdp: str) -> str:
        if not leg.relayed:
            return sdp
        return self.relay.rewrite_sdp(leg.conference_id, leg.call_uuid, sdp)

    def _forward(self, leg: Leg, peer: Leg, body: wire.NewCandidateBody) -> None:
        candidate: str | None = body.candidate
        if leg.relayed and body.candidate.strip():
            candidate = self.relay.rewrite_candidate(
                leg.conference_id, leg.call_uuid, body.candidate
            )
        if candidate is None:
            self.candidates_dropped += 1
            return
        data = leg.candidate_event(body, candidate)
        self._bus.send(peer.participant_uuid, "new_candidate", data)
        self.candidates_relayed += 1

    def _splash_waiting(self, leg: Leg) -> None:
        participant = self._participants.get(leg.participant_uuid)
        conference = self._conferences.get(leg.conference_id)
        if participant is None or conference is None:
            return
        host_here = any(p.kind == "client" and p.is_host for p in conference.participants())
        key = WAITING_FOR_HOST if participant.role == "GUEST" and not host_here else WELCOME
        self._bus.send(participant.uuid, "splash_screen", SplashScreenData(screen_key=key).body())

    def _splash_connected(self, a: Leg, b: Leg) -> None:
        for leg, far in ((a, b), (b, a)):
            data = None
            if far.audio_only and not leg.audio_only:
                data = SplashScreenData(screen_key=AUDIO_ONLY).body()
            self._bus.send(leg.participant_uuid, "splash_screen", data)
