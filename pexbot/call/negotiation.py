"""A media call's offers, both ways: ours through ``update`` (the slides direction, restarts)
and the far end's (``new_offer`` / ``update_sdp``, direct media), and what happens when they
cross.

Offers crossing (glare) follow perfect negotiation with Pexip's roles (official-client-flow.md
§8): a call whose ``/calls`` was answered is *impolite* and ignores the other offer (``ack {sdp:
"offer_ignored", offer_ignored: true}``); the direct-media call that waited for its far end is
*polite*: it aborts its pending ``update``, rolls its offer back
(:func:`pexbot.rtc.aiortc_compat.rollback_local_offer`, as aiortc has no rollback), answers the far
end's on the same connection and then offers again, unless that answer already gave the
direction it wanted. An ``update`` answered ``""`` in direct media means the far end ignored
our offer: the same as the abort. So of the two ends exactly one yields, and neither needs a
new connection. An offer with new ICE credentials (the far end restarted) is answered on a new
connection, since aiortc cannot take them on the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from pexbot import wire
from pexbot.errors import CallError, NegotiationError, PexbotError
from pexbot.events import (
    CallDisconnected,
    Event,
    NewCandidate,
    NewOffer,
    PeerDisconnected,
    UpdateSdp,
)
from pexbot.rtc.peer import Peer
from pexbot.rtc.sdp import Direction, Sdp

from .base import CallBase, OfferAborted

log = logging.getLogger("pexbot.call")  # one logger for every part of a call

#: tries of one renegotiation whose offer keeps crossing the far end's
OFFER_ATTEMPTS = 5
#: after our offer lost a crossing, wait this long (times the attempt) for the far end's offer
GLARE_WAIT = 1.0


class CallNegotiation(CallBase):
    """Offers both ways; part of :class:`~pexbot.call.MediaCall`."""

    async def set_slides_direction(self, direction: Direction) -> None:
        """Renegotiate the slides line: new offer → ``update`` → answer applied → ``ack {}``.

        When our offer loses a crossing (we are the polite end), the far end's offer is
        answered first, then ours is made again, for the direction wanted by then, unless that
        answer already negotiated it. NegotiationError after :data:`OFFER_ATTEMPTS` losses."""
        self._require_slides("change the presentation direction")
        self.slides_direction = direction
        for attempt in range(1, OFFER_ATTEMPTS + 1):
            async with self._lock:
                if self.call_uuid is None or self._closed or self.waiting_for_peer:
                    raise CallError(f"cannot renegotiate: {self!r}")
                peer = self._require_peer()
                wanted = self.slides_direction  # a later call may have changed it meanwhile
                if attempt > 1 and peer.negotiated_direction("slides") == wanted:
                    return  # the far end's offer, answered meanwhile, did it
                self._remote_answered.clear()
                try:
                    await self._offer_update(peer, slides=wanted)
                    aborted = False
                except OfferAborted:
                    aborted = True
            if aborted:
                log.info("call %s: our offer crossed the far end's (try %d)", self, attempt)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(GLARE_WAIT * attempt):
                        await self._remote_answered.wait()
                continue
            if self._stale_answer:
                self._stale_answer = False
                await self.restart("the far end answered from a new connection")
            return
        raise NegotiationError(
            f"the slides direction ({self.slides_direction}) could not be negotiated: our offer "
            f"crossed the far end's {OFFER_ATTEMPTS} times ({self!r})"
        )

    async def restart(self, reason: str = "requested") -> bool:
        """A new peer connection offered through ``update`` (aiortc has no ICE restart);
        the far end follows. False when there was nothing to restart."""
        async with self._lock:
            if self.call_uuid is None or self._closed or self.waiting_for_peer:
                return False
            if self.media_rejected:
                return False
            self.restarts += 1
            log.info("call %s: restart #%d (%s)", self.call_uuid, self.restarts, reason)
            slides = self.slides_direction
            if self._peer is not None and "slides" in self.roles:
                # Keep the presentation going whichever way it was negotiated.
                slides = self._peer.negotiated_direction("slides") or slides
            # Make before break: the old connection carries on (if it can) until the new one
            # is answered, and the far end hears of the restart before its old one closes.
            old = self._peer
            peer = self._new_peer()
            try:
                done = await self._offer_update(peer, slides=slides)
            except OfferAborted:
                return True  # the far end's offer makes a new connection anyway
            finally:
                if old is not None:
                    await old.close()
        if done:
            self.policy.new_connection(time.monotonic(), ours=True)
        return done

    async def _offer_update(self, peer: Peer, *, slides: Direction | None) -> bool:
        """Offer ``peer``'s description through ``update`` (lock held); False when the node
        answered with nothing."""
        assert self.call_uuid is not None
        call_uuid = self.call_uuid
        text = await peer.create_offer(slides if "slides" in self.roles else None)
        await peer.set_local_offer(text)
        offer = self.offer_sdp = peer.local_description()
        body = wire.UpdateBody(sdp=offer, fecc_supported=self.options.fecc_supported)
        self._update = update = asyncio.ensure_future(self._signalling.update(call_uuid, body))
        try:
            result = await update
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise OfferAborted from None
        finally:
            self._update = None
        answer = result if isinstance(result, str) else result.sdp
        if not answer and self.options.direct_media:
            # The far end ignored our offer: it is the impolite end of a crossing (or gone:
            # peer_disconnect follows). Ours is taken back; its offer is on the way.
            if peer.rollback():
                log.info("call %s: the far end ignored our offer; rolled back", call_uuid)
            raise OfferAborted
        if not answer:
            log.warning("update of call %s answered with an empty SDP; ignored", call_uuid)
            return False
        before = peer.remote_ice_ufrag()
        await peer.apply_answer(answer, offer)
        self.answer_sdp = peer.remote_sdp
        if before is not None and peer.remote_ice_ufrag() != before:
            # aiortc ignores new remote ICE credentials: this connection cannot follow.
            self._stale_answer = True
        await self._signalling.ack(call_uuid, wire.AckBody())
        return True

    def _abort_update(self) -> None:
        if self._update is not None and not self._update.done():
            self._update.cancel()

    async def handle_event(self, event: Event) -> None:
        """An event about this call (the session's router hands them over in order)."""
        if self._closed:
            return
        if isinstance(event, NewCandidate):
            peer = self._peer
            if event.ufrag and peer is not None and peer.remote_applied:
                if event.ufrag != peer.remote_ice_ufrag():
                    log.debug("candidate for an earlier connection (%s) dropped", event.ufrag)
                    return
            await self.add_remote_candidate(event.candidate, event.mid)
        elif isinstance(event, NewOffer | UpdateSdp):
            await self._remote_offer(event.sdp, str(event.name))
        elif isinstance(event, PeerDisconnected):
            await self._peer_left()
        elif isinstance(event, CallDisconnected):
            if self.call_uuid is not None and event.call_uuid == self.call_uuid:
                log.info("call %s disconnected by the node: %s", event.call_uuid, event.reason)
                # The node has forgotten the call: close without calls/<uuid>/disconnect.
                await self.close(event.reason or "call disconnected by the node")

    async def _remote_offer(self, sdp: str, what: str) -> None:
        polite = self.polite
        peer = self._peer
        colliding = self._update is not None or (
            peer is not None and peer.pc.signalingState != "stable"
        )
        if colliding and not polite:
            log.info("call %s: %s crossed our offer; ignored", self.call_uuid, what)
            if self.call_uuid is not None:
                body = wire.AckBody(sdp="offer_ignored", offer_ignored=True)
                await self._signalling.ack(self.call_uuid, body)
            return
        if colliding:
            self._abort_update()
        async with self._lock:
            if self._closed or self.call_uuid is None:
                return
            peer = self._require_peer()
            if peer.pc.signalingState == "have-local-offer" and peer.rollback():
                log.info("call %s: our offer rolled back for the far end's %s", self, what)
            # aiortc can take neither new remote ICE credentials nor the far end's offer over a
            # first offer of ours: a new connection answers then (the far end restarted, or it
            # crossed our restart).
            new_credentials = peer.remote_applied and peer.remote_ice_ufrag() != _offer_ufrag(sdp)
            if peer.closed or peer.pc.signalingState != "stable" or new_credentials:
                log.info("call %s: new connection for the far end's %s", self.call_uuid, what)
                peer = await self._replace_peer()
            if self.waiting_for_peer:
                self.peers_answered += 1
                self.policy.leader = False  # the far end offered: it leads restarts
            answer = await peer.answer_offer(sdp, presenting=self.presenting)
            self.answer_sdp = peer.remote_sdp
            await self._signalling.ack(self.call_uuid, wire.AckBody(sdp=answer))
            self.waiting_for_peer = False
            self.policy.new_connection(time.monotonic(), ours=False)
            self._remote_answered.set()

    async def add_remote_candidate(self, candidate: str, mid: str | None) -> None:
        """A candidate trickled by the far end (``""``: end of candidates); held back until
        a remote description is set."""
        peer = self._peer
        if peer is not None and not peer.closed:
            await peer.add_candidate(candidate, mid)

    async def _peer_left(self) -> None:
        """``peer_disconnect``: media down, call disconnected, a fresh ``/calls`` to wait for
        the next far end (Pexip's ``restartCall``). The session and our tracks stay."""
        if not self.options.direct_media:
            log.warning("peer_disconnect on a call that is not direct media: ignored")
            return
        self._abort_update()
        async with self._lock:
            if self._closed:
                return
            old, self.call_uuid = self.call_uuid, None
            if self._peer is not None:
                await self._peer.close()
            self.policy.idle()
            self.waiting_for_peer = True
            log.info("call %s: the far end left; waiting for the next one", old)
            if old is not None:
                try:
                    await self._signalling.disconnect_call(old)
                except PexbotError as exc:
                    log.warning("disconnect of call %s failed: %s", old, exc)
            self.waiting_for_peer = False
            try:
                await self._offer_calls(self._new_peer(), time.monotonic())
            except (PexbotError, TimeoutError) as exc:
                self.give_up(f"could not wait for the next far end: {exc}")


def _offer_ufrag(sdp: str) -> str | None:
    parsed = Sdp.parse(sdp)
    return parsed.ice_credentials(0)[0] if parsed.media else None
