"""A media call's offers and answers, both ways, in the order Pexip's own client produces them
(official-client-flow.md §5-§10), and what happens when they cross.

- Set-up: ``POST calls`` with the offer at once (no candidates in it) → ``new_candidate`` for
  each local candidate → ``ack {}`` → end-of-candidates. Ours later (the slides direction,
  restarts): ``update`` → answer applied → ``ack {}``.
- Direct media (§9): ``/calls`` answered empty means no far end yet: no ack, the connection is
  thrown away and the far end's ``new_offer`` awaited; it and later ``update_sdp`` s are
  answered with ``ack {sdp}``. ``peer_disconnect``: disconnect, and a fresh ``/calls``.
- Crossing offers (glare, §8): the end whose ``/calls`` was answered is *impolite* and ignores
  the other offer (``ack {sdp: "offer_ignored", offer_ignored: true}``); the one that waited is
  *polite*: it aborts its ``update``, rolls its offer back (aiortc has no rollback:
  :mod:`pexbot.rtc.aiortc_compat`), answers on the same connection and offers again unless the
  answer already gave the direction it wanted. An ``update`` answered ``""`` in direct media is
  the far end ignoring ours: the same. So exactly one end yields, with no new connection; only
  an offer with new ICE credentials (the far end restarted) needs one, as aiortc cannot take
  them on the old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from pexbot import wire
from pexbot.errors import CallError, NegotiationError, PexbotError
from pexbot.rtc import ice
from pexbot.rtc.peer import Peer
from pexbot.rtc.restart import RecoveryPolicy
from pexbot.rtc.sdp import Direction, MediaRole, Sdp, add_content, all_rejected, strip_candidates

from .options import CallOptions, CallTimings
from .presenting import require_slides_line
from .signalling import CallSignalling

log = logging.getLogger("pexbot.call")  # one logger for every part of a call

#: tries of one renegotiation whose offer keeps crossing the far end's
OFFER_ATTEMPTS = 5
#: after our offer lost a crossing, wait this long (times the attempt) for the far end's offer
GLARE_WAIT = 1.0


class Connections(Protocol):
    """The connections offered and answered on (:class:`~pexbot.call.peers.PeerConnections`)."""

    @property
    def current(self) -> Peer | None: ...
    def new(self) -> Peer: ...
    async def replace(self) -> Peer: ...
    async def close(self) -> None: ...


class OfferAborted(Exception):
    """Our pending ``update`` was dropped for the far end's offer (polite glare)."""


class Negotiator:
    """Every offer and answer of one call, one at a time (see the module docstring), and the
    call's identity on the node, its role in crossings, what it asks of the slides line."""

    def __init__(
        self,
        signalling: CallSignalling,
        options: CallOptions,
        roles: list[MediaRole],
        peers: Connections,
        policy: RecoveryPolicy,
        timings: CallTimings,
        *,
        presenting: Callable[[], bool],
        give_up: Callable[[str], None],
    ) -> None:
        self._signalling = signalling
        self._options = options
        self._roles = roles
        self._peers = peers
        self._policy = policy  # told of every connection negotiated, by either end
        self._timings = timings
        self._presenting = presenting  # answers to the far end send slides only if we present
        self._give_up = give_up
        self._lock = asyncio.Lock()  # one exchange at a time: answers must match their offers
        self._update: asyncio.Task[str | wire.UpdateResult] | None = None
        self._closed = False
        self._stale_answer = False  # the far end answered from a connection we do not know
        self._remote_answered = asyncio.Event()  # we answered an offer of the far end
        self.call_uuid: str | None = None
        #: yields when offers cross (perfect negotiation): the direct-media end that waited
        self.polite = False
        self.offer_sdp: str | None = None  # our last offer, as sent
        self.answer_sdp: str | None = None  # the last remote SDP, as applied
        #: what our offers ask of the slides line (the far end's may have made it otherwise)
        self.slides_direction: Direction = "inactive"
        #: the node refused every m-line (a signalling-only node): the call has no media
        self.media_rejected = False
        #: direct media with no far end yet (the node will send ``new_offer``)
        self.waiting_for_peer = False
        #: new peer connections made to recover the media, and far ends answered
        self.restarts = 0
        self.peers_answered = 0

    def __repr__(self) -> str:
        state = f"polite={self.polite}, waiting_for_peer={self.waiting_for_peer}"
        return f"Negotiator(call_uuid={self.call_uuid!r}, {state})"

    @property
    def pending_update(self) -> asyncio.Task[str | wire.UpdateResult] | None:
        """Our ``update`` waiting for its answer, if any."""
        return self._update

    # --- set-up ------------------------------------------------------------------------

    async def dial(self, t0: float) -> list[wire.TurnServer] | None:
        """``POST calls`` with a new connection's offer and finish the exchange (trickle,
        ack), or, in direct media with no far end yet, wait for its offer. Returns the TURN
        servers the node asked for, if any. ``t0``: when set-up began (for the timings)."""
        async with self._lock:
            return await self._offer_calls(self._peers.new(), t0)

    async def _offer_calls(self, peer: Peer, t0: float) -> list[wire.TurnServer] | None:
        text = await peer.create_offer()
        self.offer_sdp = add_content(strip_candidates(text), self._roles)
        body = wire.CallsBody(
            sdp=self.offer_sdp,
            media_type=self._options.media_type,
            present=self._options.present,
            fecc_supported=self._options.fecc_supported,
        )
        # Like Pexip's client, POST the offer at once: aiortc gathers candidates inside
        # setLocalDescription (seconds with an unreachable STUN server), so that runs meanwhile.
        gathering = asyncio.get_running_loop().create_task(peer.set_local_offer(text))
        try:
            result = await self._signalling.post_calls(body)
            await gathering
        finally:
            if not gathering.done():
                gathering.cancel()
                # wait() never raises: our own cancellation still reaches us, theirs does not
                await asyncio.wait({gathering})
        self._timings.posted = time.monotonic() - t0
        self.call_uuid = call_uuid = result.call_uuid
        if result.waits_for_peer and self._options.direct_media:
            await self._wait_for_peer(peer)
            return None
        if result.waits_for_peer:
            raise NegotiationError(
                "the node ignored the offer and waits for a direct-media far end, but "
                "request_token did not say this is direct media"
            )
        self.polite = False
        self.media_rejected = all_rejected(result.sdp)
        if self.media_rejected:
            log.warning("call %s: the node refused every m-line; no media", call_uuid)
        else:
            await peer.apply_answer(result.sdp, self.offer_sdp)
            self.answer_sdp = peer.remote_sdp
        self._timings.answered = time.monotonic() - t0
        if not result.turn:  # TURN-443: Pexip's client drops the first candidates
            for candidate in peer.local_candidates(relay_only=self._options.relay_only):
                await self._signalling.new_candidate(call_uuid, candidate)
        await self._signalling.ack(call_uuid, wire.AckBody())
        self._timings.acked = time.monotonic() - t0
        if not result.turn:
            await self._signalling.new_candidate(call_uuid, ice.end_of_candidates())
        self._policy.leader = True
        self._policy.new_connection(time.monotonic(), ours=True)
        return result.turn

    async def _wait_for_peer(self, peer: Peer) -> None:
        assert self.call_uuid is not None
        log.info("call %s: no far end yet; waiting for its offer", self.call_uuid)
        # Pexip's client flushes the discarded connection's candidates (§9); the node
        # relays them nowhere.
        for candidate in peer.local_candidates(relay_only=self._options.relay_only):
            await self._signalling.new_candidate(self.call_uuid, candidate)
        await peer.close()
        self.waiting_for_peer = True
        self.polite = True  # Pexip's client recreates this connection polite (§8-§9)
        self._policy.idle()
        self._peers.new()  # the polite one that will answer new_offer

    def hang_up(self) -> str | None:
        """Forget the call's id (it is being disconnected): no exchange follows. Returns it."""
        call_uuid, self.call_uuid = self.call_uuid, None
        return call_uuid

    def close(self) -> None:
        """The call closed: drop our pending ``update`` and negotiate nothing more."""
        self._closed = True
        self._abort_update()

    # --- our offers: the slides direction, restarts ------------------------------------

    async def set_slides_direction(self, direction: Direction) -> None:
        """Renegotiate the slides line: new offer → ``update`` → answer applied → ``ack {}``.

        When our offer loses a crossing (we are the polite end), the far end's offer is
        answered first, then ours is made again, for the direction wanted by then, unless that
        answer already negotiated it. NegotiationError after :data:`OFFER_ATTEMPTS` losses."""
        require_slides_line(self._roles, self._options, "change the presentation direction")
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

    def expect_slides(self, direction: Direction) -> None:
        """Want ``direction`` of the slides line without offering it: the far end's next
        offer is to give it (direct media, where the presenter's offer turns our line)."""
        self.slides_direction = direction

    def settled_slides_direction(self) -> Direction | None:
        """The slides direction as last negotiated; None while an exchange is in flight or
        pending (or there is no connection to tell)."""
        peer = self._peers.current
        if (
            peer is None
            or self._closed
            or self.waiting_for_peer
            or self._update is not None
            or self._lock.locked()
        ):
            return None
        return peer.negotiated_direction("slides")

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
            old = self._peers.current
            slides = self.slides_direction
            if old is not None and "slides" in self._roles:
                # Keep the presentation going whichever way it was negotiated.
                slides = old.negotiated_direction("slides") or slides
            # Make before break: the old connection carries on (if it can) until the new one
            # is answered, and the far end hears of the restart before its old one closes.
            peer = self._peers.new()
            try:
                done = await self._offer_update(peer, slides=slides)
            except OfferAborted:
                return True  # the far end's offer makes a new connection anyway
            finally:
                if old is not None:
                    await old.close()
        if done:
            self._policy.new_connection(time.monotonic(), ours=True)
        return done

    async def _offer_update(self, peer: Peer, *, slides: Direction | None) -> bool:
        """Offer ``peer``'s description through ``update`` (lock held); False when the node
        answered with nothing."""
        assert self.call_uuid is not None
        call_uuid = self.call_uuid
        text = await peer.create_offer(slides if "slides" in self._roles else None)
        await peer.set_local_offer(text)
        offer = self.offer_sdp = peer.local_description()
        body = wire.UpdateBody(sdp=offer, fecc_supported=self._options.fecc_supported)
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
        if not answer and self._options.direct_media:
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

    def _require_peer(self) -> Peer:
        peer = self._peers.current
        if peer is None or self._closed:
            raise CallError(f"the call has no peer connection ({self!r})")
        return peer

    # --- the far end's offers ----------------------------------------------------------

    async def answer(self, sdp: str, what: str) -> None:
        """The far end's offer (``what``: ``new_offer`` or ``update_sdp``): answered with
        ``ack {sdp}``, or ignored when it crosses ours and we are the impolite end."""
        if self._closed:
            return
        peer = self._peers.current
        colliding = self._update is not None or (
            peer is not None and peer.pc.signalingState != "stable"
        )
        if colliding and not self.polite:
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
                peer = await self._peers.replace()
            if self.waiting_for_peer:
                self.peers_answered += 1
                self._policy.leader = False  # the far end offered: it leads restarts
            answer = await peer.answer_offer(sdp, presenting=self._presenting())
            self.answer_sdp = peer.remote_sdp
            await self._signalling.ack(self.call_uuid, wire.AckBody(sdp=answer))
            self.waiting_for_peer = False
            self._policy.new_connection(time.monotonic(), ours=False)
            self._remote_answered.set()

    async def peer_left(self) -> None:
        """``peer_disconnect``: media down, call disconnected, a fresh ``/calls`` to wait for
        the next far end (Pexip's ``restartCall``). The session and our tracks stay."""
        if not self._options.direct_media:
            log.warning("peer_disconnect on a call that is not direct media: ignored")
            return
        self._abort_update()
        async with self._lock:
            if self._closed:
                return
            old, self.call_uuid = self.call_uuid, None
            await self._peers.close()
            self._policy.idle()
            self.waiting_for_peer = True
            log.info("call %s: the far end left; waiting for the next one", old)
            if old is not None:
                try:
                    await self._signalling.disconnect_call(old)
                except PexbotError as exc:
                    log.warning("disconnect of call %s failed: %s", old, exc)
            self.waiting_for_peer = False
            try:
                await self._offer_calls(self._peers.new(), time.monotonic())
            except (PexbotError, TimeoutError) as exc:
                self._give_up(f"could not wait for the next far end: {exc}")


def _offer_ufrag(sdp: str) -> str | None:
    parsed = Sdp.parse(sdp)
    return parsed.ice_credentials(0)[0] if parsed.media else None
