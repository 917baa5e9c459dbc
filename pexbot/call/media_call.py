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
  → ``ack {}``; the far end's offers are answered with ``ack {sdp}``; offers crossing follow
  perfect negotiation with Pexip's roles (:mod:`pexbot.call.negotiation`).

aiortc cannot restart ICE, so a restart is a new peer connection (:mod:`pexbot.rtc.peer`), offered
with its fresh ICE credentials through ``update``; the far end follows by building a new one as
well. The application does not notice: the call's tracks (:mod:`pexbot.call.media`) outlive
every connection. :mod:`pexbot.call.supervisor` decides when to restart
(:mod:`pexbot.rtc.restart`), samples statistics (:meth:`MediaCall.stats`) and posts them.

The call is one object in four modules, one concept each: this one (set-up, peer connections,
teardown), :mod:`pexbot.call.negotiation`, :mod:`pexbot.call.presenting` (the presentation
line) and :mod:`pexbot.call.controls` (mute, sources, DTMF, chat, statistics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from pexbot import wire
from pexbot.errors import CallError, NegotiationError, PexbotError
from pexbot.rtc import ice
from pexbot.rtc.datachannel import ChatMessage, PexChannel
from pexbot.rtc.peer import Peer
from pexbot.rtc.restart import RecoveryPolicy
from pexbot.rtc.sdp import (
    Direction,
    MediaRole,
    add_content,
    all_rejected,
    offer_roles,
    strip_candidates,
)

from .base import CALL_EVENTS, CallSignalling, CallState
from .controls import CallControls
from .media import CallMedia, OnTrack, TrackRole
from .negotiation import CallNegotiation
from .options import CallOptions, CallTimings
from .presenting import CallPresenting
from .stats import StatsTracker
from .supervisor import CallSupervisor, StatisticsPoster

__all__ = [
    "CALL_EVENTS",
    "CallOptions",
    "CallSignalling",
    "CallState",
    "CallTimings",
    "MediaCall",
    "OnTrack",
    "TrackRole",
]

log = logging.getLogger(__name__)


class MediaCall(CallNegotiation, CallPresenting, CallControls):
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
        self._remote_answered = asyncio.Event()  # we answered an offer of the far end
        #: yields when offers cross (perfect negotiation): the direct-media end that waited
        self.polite = False
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
                # wait() never raises: our own cancellation still reaches us, theirs does not
                await asyncio.wait({gathering})
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
        self.polite = False
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
        self.polite = True  # Pexip's client recreates this connection polite (§8-§9)
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
        try:
            if supervising is not None and supervising is not asyncio.current_task():
                supervising.cancel()
                await asyncio.wait({supervising})  # (suppressing CancelledError would eat ours)
        finally:  # cancelled while closing: release everything all the same, then re-raise
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
