"""One WebRTC media call with a Pexip node (transcoded) or through it (direct media).

The wire order is the one Pexip's own client produces (official-client-flow.md §5-§10):

- Set-up: ``POST calls`` with the offer as soon as it exists (no candidates in it) →
  ``new_candidate`` for each local candidate → ``ack {}`` → end-of-candidates
  ``{candidate: "", mid: "0"}``.
- Direct media (§9): a ``/calls`` answered with an empty SDP or ``offer_ignored`` means the far
  end is not there yet: no ack; the call keeps the ``call_uuid``, throws its first peer
  connection away (posting its candidates, which the node ignores) and waits for
  ``new_offer``, answered with ``ack {sdp}``, as are later ``update_sdp`` s. ``peer_disconnect``
  tears the media down, disconnects the call and POSTs a fresh ``/calls`` to wait for the next
  far end: the session stays, nobody re-joins.
- Our own changes (presentation direction, ICE restarts) go through ``update`` → answer applied
  → ``ack {}``. Offers crossing (glare): an ordinary call is *impolite* and ignores the node's
  offer (``ack {sdp: "offer_ignored", offer_ignored: true}``); a direct-media call is *polite*:
  it drops its own offer (the pending ``update`` is aborted) and answers the far end's.

aiortc cannot restart ICE, so a restart is a new peer connection (:mod:`pexbot.peer`), offered
with its fresh ICE credentials through ``update``; the far end follows by building a new one as
well. The application does not notice: the call's tracks (:mod:`pexbot.call_media`) outlive
every connection. :mod:`pexbot.call_supervisor` decides when to restart
(:mod:`pexbot.restart`), samples statistics (:meth:`MediaCall.stats`) and posts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Literal, Protocol

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from . import aiortc_compat, ice, wire
from .call_media import CallMedia, OnTrack, TrackRole
from .call_options import CallOptions, CallTimings
from .call_stats import CallStats, StatsTracker
from .call_supervisor import CallSupervisor, StatisticsPoster
from .datachannel import ChatMessage, PexChannel
from .errors import CallError, NegotiationError, PexbotError
from .events import CallDisconnected, Event, NewCandidate, NewOffer, PeerDisconnected, UpdateSdp
from .peer import Peer
from .restart import RecoveryPolicy
from .sdp import (
    Direction,
    MediaRole,
    Sdp,
    add_content,
    all_rejected,
    offer_roles,
    strip_candidates,
)

__all__ = [
    "CallOptions",
    "CallSignalling",
    "CallState",
    "CallTimings",
    "MediaCall",
    "OnTrack",
    "TrackRole",
]

log = logging.getLogger(__name__)

CallState = Literal["new", "waiting", "connecting", "connected", "reconnecting", "ended"]
CALL_EVENTS = (CallDisconnected, NewCandidate, NewOffer, UpdateSdp, PeerDisconnected)


class CallSignalling(Protocol):
    """What a media call needs from the session (A2's CallApi + ParticipantApi provide it)."""

    async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult: ...
    async def new_candidate(self, call_uuid: str, body: wire.NewCandidateBody) -> None: ...
    async def ack(self, call_uuid: str, body: wire.AckBody) -> None: ...
    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str | wire.UpdateResult: ...
    async def disconnect_call(self, call_uuid: str) -> None: ...
    async def call_dtmf(self, call_uuid: str, digits: str) -> None: ...
    async def take_floor(self) -> None: ...
    async def release_floor(self) -> None: ...


class OfferAborted(Exception):
    """Our pending ``update`` was dropped for the far end's offer (polite glare)."""


class MediaCall:
    """A Pexip media call: audio, main video and (for ``video`` calls) presentation.

    ``audio`` / ``video`` are the application's sources (any aiortc track; they can be swapped
    later with :meth:`set_audio_source` / :meth:`set_video_source` and are never stopped by the
    call). Remote media is handed to ``on_track(role, track)`` once per role (``"main"`` for
    audio and video, ``"presentation"``) and kind; the track stays the same across restarts
    and direct-media far ends, and ends when the call ends. Whoever takes a track must keep
    reading it. Without ``on_track`` the call reads and discards them. ``on_message`` gets the
    chat arriving over the direct-media data channel; ``post_statistics`` posts statistics.
    """

    def __init__(
        self,
        signalling: CallSignalling,
        options: CallOptions | None = None,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        on_track: OnTrack | None = None,
        on_message: Callable[[ChatMessage], None] | None = None,
        post_statistics: StatisticsPoster | None = None,
    ) -> None:
        self._signalling = signalling
        self.options = options = options or CallOptions()
        self.roles: list[MediaRole] = offer_roles(options.media_type, options.present)
        self.media = CallMedia(self.roles, audio=audio, video=video, on_track=on_track)
        self.audio, self.video, self.slides = self.media.audio, self.media.video, self.media.slides
        self.channel: PexChannel | None = None
        if options.datachannel_id is not None:
            self.channel = PexChannel(options.datachannel_id, on_chat=on_message)
        self.ice_servers = list(options.ice_servers)
        self.policy = RecoveryPolicy(options.recovery, leader=True)
        self.tracker = StatsTracker()
        self._supervisor = CallSupervisor(
            self,
            post=post_statistics if options.posts_stats else None,
            stats_interval=options.stats_interval,
        )
        self._supervising: asyncio.Task[None] | None = None
        self._peer: Peer | None = None
        self._last_pc: RTCPeerConnection | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._update: asyncio.Task[str | wire.UpdateResult] | None = None
        self._closed = False
        self._stale_answer = False  # the far end answered from a connection we do not know
        self.call_uuid: str | None = None
        self.offer_sdp: str | None = None  # our last offer, as sent
        self.answer_sdp: str | None = None  # the last remote SDP, as applied
        self.slides_direction: Direction = "inactive"
        self.presenting = False
        #: the node refused every m-line (a signalling-only node): the call has no media
        self.media_rejected = False
        #: direct media with no far end yet (the node will send ``new_offer``)
        self.waiting_for_peer = False
        #: new peer connections made to recover the media, and far ends answered
        self.restarts = 0
        self.peers_answered = 0
        self.timings = CallTimings()
        self.ended = asyncio.Event()
        self.end_reason: str | None = None

    def __repr__(self) -> str:
        kind = "direct" if self.options.direct_media else self.options.media_type
        return f"MediaCall(call_uuid={self.call_uuid!r}, {kind}, {self.state})"

    @property
    def pc(self) -> RTCPeerConnection:
        """The current peer connection (after the call ended: the last one)."""
        if self._last_pc is None:
            raise CallError("the call has not been started")
        return self._last_pc

    @property
    def current_peer(self) -> Peer | None:
        return self._peer

    @property
    def state(self) -> CallState:
        peer = self._peer
        if self._closed or self.ended.is_set():
            return "ended"
        if self.waiting_for_peer:
            return "waiting"
        if peer is None:
            return "new"
        if self.policy.recovering:
            return "reconnecting"
        return "connected" if peer.connected else "connecting"

    # --- set-up ------------------------------------------------------------------------

    async def start(self) -> None:
        """Offer, trickle, ack and wait until media can flow (ICE + DTLS up).

        In direct media it may return earlier, in state ``"waiting"``: the far end is not
        there yet (:meth:`wait_connected` waits for it). Raises NegotiationError, IceTimeout or
        DtlsTimeout (the call is then disconnected and closed), or the signalling's errors.
        """
        if self._peer is not None or self._closed:
            raise CallError(f"start() called twice ({self!r})")
        t0 = time.monotonic()
        try:
            async with self._lock:
                peer = self._new_peer()
                turn = await self._offer_calls(peer, t0)
            if self.waiting_for_peer or self.media_rejected:
                self._supervise()
                return
            if turn:
                # TURN-443 (§6): the node wants the TURN servers used: restart with them.
                self.ice_servers += ice.ice_servers(None, turn)
                await self.restart("TURN servers from the node")
            peer = self._require_peer()
            ice_s, dtls_s = await ice.wait_connected(
                peer.pc,
                ice_timeout=self.options.ice_timeout,
                dtls_timeout=self.options.dtls_timeout,
            )
        except BaseException as exc:
            reason = f"call set-up failed: {exc}" if isinstance(exc, Exception) else "cancelled"
            with contextlib.suppress(Exception):
                await asyncio.shield(self.disconnect(reason))
            raise
        assert self.timings.acked is not None
        self.timings.ice_connected = self.timings.acked + ice_s
        self.timings.dtls_connected = self.timings.ice_connected + dtls_s
        self._supervise()
        log.info(
            "call %s connected in %.2f s (ICE %.2f s after ack)",
            self.call_uuid,
            self.timings.dtls_connected,
            ice_s,
        )

    async def _offer_calls(self, peer: Peer, t0: float) -> list[wire.TurnServer] | None:
        """``POST calls`` with ``peer``'s offer and finish the exchange (lock held).

        Returns the TURN servers the node asked for, if any."""
        text = await peer.create_offer()
        self.offer_sdp = add_content(strip_candidates(text), self.roles)
        body = wire.CallsBody(
            sdp=self.offer_sdp,
            media_type=self.options.media_type,
            present=self.options.present,
            fecc_supported=self.options.fecc_supported,
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
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await gathering
        self.timings.posted = time.monotonic() - t0
        self.call_uuid = call_uuid = result.call_uuid
        if result.waits_for_peer and self.options.direct_media:
            await self._wait_for_peer(peer)
            return None
        if result.waits_for_peer:
            raise NegotiationError(
                "the node ignored the offer and waits for a direct-media far end, but "
                "request_token did not say this is direct media"
            )
        self.media_rejected = all_rejected(result.sdp)
        if self.media_rejected:
            log.warning("call %s: the node refused every m-line; no media", call_uuid)
        else:
            await peer.apply_answer(result.sdp, self.offer_sdp)
            self.answer_sdp = peer.remote_sdp
        self.timings.answered = time.monotonic() - t0
        if not result.turn:  # TURN-443: Pexip's client drops the first candidates
            for candidate in peer.local_candidates(relay_only=self.options.relay_only):
                await self._signalling.new_candidate(call_uuid, candidate)
        await self._signalling.ack(call_uuid, wire.AckBody())
        self.timings.acked = time.monotonic() - t0
        if not result.turn:
            await self._signalling.new_candidate(call_uuid, ice.end_of_candidates())
        self.policy.leader = True
        self.policy.new_connection(time.monotonic(), ours=True)
        return result.turn

    async def _wait_for_peer(self, peer: Peer) -> None:
        assert self.call_uuid is not None
        log.info("call %s: no far end yet; waiting for its offer", self.call_uuid)
        # Pexip's client flushes the discarded connection's candidates (§9); the node
        # relays them nowhere.
        for candidate in peer.local_candidates(relay_only=self.options.relay_only):
            await self._signalling.new_candidate(self.call_uuid, candidate)
        await peer.close()
        self.waiting_for_peer = True
        self.policy.idle()
        self._new_peer()  # the polite one that will answer new_offer

    def _new_peer(self) -> Peer:
        """A new peer connection with the call's tracks, the current one from now on (the
        caller closes the previous one)."""
        self._generation += 1
        peer = Peer(
            self._generation,
            ice.configuration(self.ice_servers, relay_only=self.options.relay_only),
            roles=self.roles,
            outgoing=self.media.outgoing,
            counters=self.media.counters,
            on_track=self._track_arrived,
            channel=self.channel,
            video_codec=self.options.video_codec,
            munge_remote=not self.options.direct_media,
        )
        self._peer = peer
        self._last_pc = peer.pc
        return peer

    async def _replace_peer(self) -> Peer:
        if self._peer is not None:
            await self._peer.close()
        return self._new_peer()

    def _require_peer(self) -> Peer:
        if self._peer is None or self._closed:
            raise CallError(f"the call has no peer connection ({self!r})")
        return self._peer

    async def wait_connected(self) -> None:
        """Wait until media can flow (state ``connected``); bound it with asyncio.timeout."""
        while self.state != "connected":
            if self.ended.is_set():
                raise CallError(f"the call ended: {self.end_reason}")
            await asyncio.sleep(0.05)

    # --- our offers: presentation, restarts ------------------------------------------

    async def start_presenting(self, track: MediaStreamTrack) -> None:
        """take_floor, then send ``track`` on the slides line (sendonly, via update)."""
        self._require_slides("present")
        await self._signalling.take_floor()
        self.slides.set_source(track)
        self.presenting = True
        await self.set_slides_direction("sendonly")

    async def stop_presenting(self) -> None:
        """release_floor, then set the slides line inactive."""
        self._require_slides("stop presenting")
        self.presenting = False
        self.slides.set_source(None)
        await self._signalling.release_floor()
        await self.set_slides_direction("inactive")

    async def receive_presentation(self) -> None:
        """After ``presentation_start``: slides line recvonly; the track arrives via on_track."""
        self._require_slides("receive presentation")
        if self.presenting:
            await self.stop_presenting()
        await self.set_slides_direction("recvonly")

    async def stop_receiving_presentation(self) -> None:
        self._require_slides("stop receiving presentation")
        if not self.presenting:
            await self.set_slides_direction("inactive")

    async def set_slides_direction(self, direction: Direction) -> None:
        """Renegotiate the slides line: new offer → ``update`` → answer applied → ``ack {}``."""
        self._require_slides("change the presentation direction")
        self.slides_direction = direction
        for _ in range(3):  # the far end's offers may win a crossing (polite glare)
            async with self._lock:
                if self.call_uuid is None or self._closed or self.waiting_for_peer:
                    raise CallError(f"cannot renegotiate: {self!r}")
                try:
                    await self._offer_update(self._require_peer(), slides=direction)
                except OfferAborted:
                    log.info("call %s: our offer crossed the far end's; offering again", self)
                    continue
            if self._stale_answer:
                self._stale_answer = False
                await self.restart("the far end answered from a new connection")
            return
        raise NegotiationError(f"the slides direction could not be negotiated ({self!r})")

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

    def _require_slides(self, what: str) -> None:
        if "slides" not in self.roles:
            raise CallError(
                f"cannot {what}: this {self.options.media_type} call has no presentation line"
                + (" (present='main')" if self.options.present == "main" else "")
            )

    # --- what the node tells us -------------------------------------------------------

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
        polite = self.options.direct_media
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
            # aiortc can neither roll our offer back nor take new ICE credentials: a new
            # connection answers then (the far end restarted, or offers crossed).
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

    # --- controls ----------------------------------------------------------------------

    def set_audio_muted(self, muted: bool) -> None:
        """Local mute: silence is sent instead of the source (REST mute is the session's)."""
        self.audio.muted = muted

    def set_video_muted(self, muted: bool) -> None:
        """Local video mute: black frames are sent instead of the source."""
        self.video.muted = muted

    def set_audio_source(self, track: MediaStreamTrack | None) -> None:
        self.audio.set_source(track)

    def set_video_source(self, track: MediaStreamTrack | None) -> None:
        self.video.set_source(track)

    async def send_dtmf(self, digits: str) -> None:
        """DTMF over REST (``calls/<id>/dtmf``), as Pexip's client does; never RTP events."""
        if self.call_uuid is None:
            raise CallError("cannot send DTMF before the call is answered")
        await self._signalling.call_dtmf(self.call_uuid, digits)

    def send_message(self, payload: str, *, type: str = "text/plain") -> bool:
        """Chat over the data channel (direct media): True if sent now, False if queued
        until the channel opens. CallError when the call has no data channel."""
        if self.channel is None:
            raise CallError("this call has no data channel (request_token gave no id)")
        message = ChatMessage(
            payload,
            origin=self.options.display_name,
            uuid=self.options.participant_uuid,
            type=type,
        )
        return self.channel.send_chat(message)

    def stats(self) -> CallStats:
        """The latest statistics (sampled every second while the call is up)."""
        return self.tracker.latest

    async def sample_stats(self) -> CallStats:
        """Sample statistics now."""
        return await self._supervisor.sample(time.monotonic())

    def set_stats_interval(self, seconds: float | None) -> None:
        """A new ``client_stats_update_interval`` (seconds; None stops posting)."""
        self._supervisor.set_interval(seconds)

    @property
    def statistics_posted(self) -> int:
        return self._supervisor.posted

    def selected_pair(self) -> tuple[aiortc_compat.Address, aiortc_compat.Address] | None:
        """(local, remote) address of the ICE pair in use."""
        return aiortc_compat.selected_pair(self.pc) if self._last_pc is not None else None

    # --- teardown ------------------------------------------------------------------------

    async def disconnect(self, reason: str = "disconnected") -> None:
        """``calls/<id>/disconnect`` (errors logged), then close. Idempotent."""
        call_uuid, self.call_uuid = self.call_uuid, None
        if call_uuid is not None and not self._closed:
            try:
                await self._signalling.disconnect_call(call_uuid)
            except PexbotError as exc:
                log.warning("disconnect of call %s failed: %s", call_uuid, exc)
        await self.close(reason)

    async def close(self, reason: str = "closed") -> None:
        """Close the peer connection and the call's tracks (no REST). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.end_reason is None:
            self.end_reason = reason
        self._abort_update()
        supervising, self._supervising = self._supervising, None
        if supervising is not None and supervising is not asyncio.current_task():
            supervising.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervising
        if self._peer is not None:
            await self._peer.close()
        await self.media.close()
        self.ended.set()

    def give_up(self, reason: str) -> None:
        """End the call from inside (media could not be recovered): the session's router
        then disconnects and closes it."""
        if self.end_reason is None:
            self.end_reason = reason
        log.warning("call %s: %s", self.call_uuid, reason)
        self.ended.set()

    def _supervise(self) -> None:
        if self._supervising is None and not self._closed:
            self._supervising = asyncio.get_running_loop().create_task(
                self._supervisor.run(), name=f"pexbot-call-supervisor-{self.call_uuid}"
            )

    # --- aiortc events -------------------------------------------------------------------

    def _track_arrived(self, peer: Peer, role: MediaRole | None, track: MediaStreamTrack) -> None:
        if peer is not self._peer:
            return  # a connection being replaced: its tracks end with it
        self.media.remote_track(role, track)


def _offer_ufrag(sdp: str) -> str | None:
    parsed = Sdp.parse(sdp)
    return parsed.ice_credentials(0)[0] if parsed.media else None
