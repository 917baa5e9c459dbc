"""One WebRTC media call with a Pexip node (transcoded) or through it (direct media).

:class:`MediaCall` owns its lifecycle (set-up, teardown, why it ended) and wires its parts,
each an object that owns its state; its public surface delegates to the part that owns it:

- :class:`~pexbot.call.media.CallMedia`: the tracks, which outlive every connection;
- :class:`~pexbot.call.peers.PeerConnections`: the current ``RTCPeerConnection`` and the making
  of the next (aiortc cannot restart ICE: a restart is a new connection);
- :class:`~pexbot.call.negotiation.Negotiator`: every offer and answer, both ways, in Pexip's
  wire order, and the call's identity on the node;
- :class:`~pexbot.call.presenting.PresentingLine`: presenting on the slides line, or receiving;
- :class:`~pexbot.call.controls.CallControls`: mute, sources, DTMF, chat;
- :class:`~pexbot.call.supervisor.CallSupervisor`: restarts when media fails, statistics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiortc import RTCIceServer, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from pexbot import wire
from pexbot.errors import CallError, PexbotError
from pexbot.events import (
    CallDisconnected,
    Event,
    NewCandidate,
    NewOffer,
    PeerDisconnected,
    UpdateSdp,
)
from pexbot.rtc import aiortc_compat, ice
from pexbot.rtc.datachannel import ChatMessage, PexChannel
from pexbot.rtc.peer import Peer
from pexbot.rtc.restart import RecoveryPolicy
from pexbot.rtc.sdp import Direction, MediaRole, offer_roles

from .controls import CallControls
from .media import CallMedia, OnTrack, TrackRole
from .negotiation import Negotiator
from .options import CallOptions, CallTimings
from .peers import PeerConnections
from .presenting import PresentingLine
from .signalling import CALL_EVENTS, CallSignalling, CallState
from .stats import CallStats, StatsTracker
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
        self.media = CallMedia(
            self.roles, audio=audio, video=video, on_track=on_track, filler_fps=options.filler_fps
        )
        self.audio, self.video, self.slides = self.media.audio, self.media.video, self.media.slides
        self.channel: PexChannel | None = None
        if options.datachannel_id is not None:
            self.channel = PexChannel(options.datachannel_id, on_chat=on_message)
        #: shared by the negotiator (told of each new connection) and the supervisor (acting
        #: on its verdicts)
        self.policy = RecoveryPolicy(options.recovery, leader=True)
        self.timings = CallTimings()
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self._closed = False
        self._peers = PeerConnections(options, self.roles, self.media, self.channel)
        self._negotiator = Negotiator(
            signalling,
            options,
            self.roles,
            self._peers,
            self.policy,
            self.timings,
            # Late-bound: the line is made next, handed the negotiator.
            presenting=lambda: self._line.presenting,
            give_up=self.give_up,
        )
        self._line = PresentingLine(signalling, options, self.roles, self.slides, self._negotiator)
        self._controls = CallControls(
            signalling,
            options,
            audio=self.audio,
            video=self.video,
            channel=self.channel,
            call_uuid=lambda: self._negotiator.call_uuid,
        )
        self._supervisor = CallSupervisor(
            self,
            post=post_statistics if options.posts_stats else None,
            stats_interval=options.stats_interval,
        )

    def __repr__(self) -> str:
        kind = "direct" if self.options.direct_media else self.options.media_type
        return f"MediaCall(call_uuid={self.call_uuid!r}, {kind}, {self.state})"

    @property
    def fast_packets(self) -> int:
        """Packets the current connection received by the RTP shortcut (``fast_rtp``)."""
        peer = self._peers.current
        return peer.fast_packets if peer is not None else 0

    @property
    def state(self) -> CallState:
        peer = self._peers.current
        if self._closed or self.ended.is_set():
            return "ended"
        if self.waiting_for_peer:
            return "waiting"
        if peer is None:
            return "new"
        if self.policy.recovering:
            return "reconnecting"
        return "connected" if peer.connected else "connecting"

    # --- set-up and teardown -------------------------------------------------------------

    async def start(self) -> None:
        """Offer, trickle, ack and wait until media can flow (ICE + DTLS up).

        In direct media it may return earlier, in state ``"waiting"``: the far end is not
        there yet (:meth:`wait_connected` waits for it). Raises NegotiationError, IceTimeout or
        DtlsTimeout (the call is then disconnected and closed), or the signalling's errors.
        """
        if self._peers.current is not None or self._closed:
            raise CallError(f"start() called twice ({self!r})")
        t0 = time.monotonic()
        try:
            turn = await self._negotiator.dial(t0)
            if self.waiting_for_peer or self.media_rejected:
                self._supervise()
                return
            if turn:
                # TURN-443 (§6): the node wants the TURN servers used: restart with them.
                self._peers.add_ice_servers(ice.ice_servers(None, turn))
                await self.restart("TURN servers from the node")
            peer = self._peers.current
            if peer is None or self._closed:
                raise CallError(f"the call has no peer connection ({self!r})")
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
        ice_at = self.timings.ice_connected = self.timings.acked + ice_s
        done = self.timings.dtls_connected = ice_at + dtls_s
        self._supervise()
        log.info("call %s connected in %.2f s (ICE %.2f s after ack)", self.call_uuid, done, ice_s)

    async def wait_connected(self) -> None:
        """Wait until media can flow (state ``connected``); bound it with asyncio.timeout."""
        while self.state != "connected":
            if self.ended.is_set():
                raise CallError(f"the call ended: {self.end_reason}")
            await asyncio.sleep(0.05)

    async def disconnect(self, reason: str = "disconnected") -> None:
        """``calls/<id>/disconnect`` (errors logged), then close. Idempotent."""
        call_uuid = self._negotiator.hang_up()
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
        self._negotiator.close()
        try:
            await self._supervisor.stop()
        finally:  # cancelled while closing: release everything all the same, then re-raise
            await self._peers.close()
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
        if not self._closed:
            self._supervisor.start()

    async def handle_event(self, event: Event) -> None:
        """An event about this call (the session's router hands them over in order)."""
        if self._closed:
            return
        if isinstance(event, NewCandidate):
            if self._peers.stale_candidate(event.ufrag):
                log.debug("candidate for an earlier connection (%s) dropped", event.ufrag)
                return
            await self.add_remote_candidate(event.candidate, event.mid)
        elif isinstance(event, NewOffer | UpdateSdp):
            await self._negotiator.answer(event.sdp, str(event.name))
        elif isinstance(event, PeerDisconnected):
            await self._negotiator.peer_left()
        elif isinstance(event, CallDisconnected):
            if self.call_uuid is not None and event.call_uuid == self.call_uuid:
                log.info("call %s disconnected by the node: %s", event.call_uuid, event.reason)
                # The node has forgotten the call: close without calls/<uuid>/disconnect.
                await self.close(event.reason or "call disconnected by the node")

    async def add_remote_candidate(self, candidate: str, mid: str | None) -> None:
        """A candidate trickled by the far end (``""``: end of candidates); held back until
        a remote description is set."""
        await self._peers.add_candidate(candidate, mid)

    # --- the connection (PeerConnections) ------------------------------------------------

    @property
    def pc(self) -> RTCPeerConnection:
        """The current peer connection (after the call ended: the last one)."""
        pc = self._peers.last_pc
        if pc is None:
            raise CallError("the call has not been started")
        return pc

    @property
    def current_peer(self) -> Peer | None:
        return self._peers.current

    @property
    def ice_servers(self) -> list[RTCIceServer]:
        return self._peers.ice_servers

    def selected_pair(self) -> tuple[aiortc_compat.Address, aiortc_compat.Address] | None:
        """(local, remote) address of the ICE pair in use."""
        return self._peers.selected_pair()

    # --- offers and answers (Negotiator) -------------------------------------------------

    @property
    def call_uuid(self) -> str | None:
        return self._negotiator.call_uuid

    @property
    def polite(self) -> bool:
        """Yields when offers cross: the direct-media end that waited for the other."""
        return self._negotiator.polite

    @property
    def waiting_for_peer(self) -> bool:
        """Direct media with no far end yet (the node will send ``new_offer``)."""
        return self._negotiator.waiting_for_peer

    @property
    def media_rejected(self) -> bool:
        """The node refused every m-line (a signalling-only node): the call has no media."""
        return self._negotiator.media_rejected

    @property
    def offer_sdp(self) -> str | None:
        """Our last offer, as sent."""
        return self._negotiator.offer_sdp

    @property
    def answer_sdp(self) -> str | None:
        """The last remote SDP, as applied."""
        return self._negotiator.answer_sdp

    @property
    def restarts(self) -> int:
        """New connections made to recover the media."""
        return self._negotiator.restarts

    @property
    def peers_answered(self) -> int:
        """Direct-media far ends whose offer was answered."""
        return self._negotiator.peers_answered

    @property
    def slides_direction(self) -> Direction:
        """What our offers ask of the slides line."""
        return self._negotiator.slides_direction

    @slides_direction.setter
    def slides_direction(self, direction: Direction) -> None:
        # Settable as it always was (pexbot.presentation's PresentingCall says so).
        self._negotiator.expect_slides(direction)

    @property
    def _update(self) -> asyncio.Task[str | wire.UpdateResult] | None:
        return self._negotiator.pending_update  # tests wait for it to make offers cross

    async def set_slides_direction(self, direction: Direction) -> None:
        """Renegotiate the slides line (:meth:`Negotiator.set_slides_direction`)."""
        await self._negotiator.set_slides_direction(direction)

    async def restart(self, reason: str = "requested") -> bool:
        """A new peer connection offered through ``update``; False if nothing to restart."""
        return await self._negotiator.restart(reason)

    async def request_keyframe(self, role: TrackRole = "main") -> None:
        """Ask the far end for a keyframe (PLI) of ``role``'s video (``"main"`` or
        ``"presentation"``): a consumer of encoded frames starting mid-stream needs one."""
        peer = self._peers.current
        if peer is not None:
            await peer.request_keyframe("slides" if role == "presentation" else "video")

    # --- the presentation line (PresentingLine) ------------------------------------------

    @property
    def presenting(self) -> bool:
        return self._line.presenting

    @presenting.setter
    def presenting(self, value: bool) -> None:
        self._line.presenting = value  # settable as it always was (PresentingCall)

    async def start_presenting(self, track: MediaStreamTrack) -> None:
        """take_floor, then send ``track`` on the slides line (FloorDenied if refused)."""
        await self._line.start_presenting(track)

    async def stop_presenting(self) -> None:
        """release_floor, then set the slides line inactive."""
        await self._line.stop_presenting()

    async def yield_presentation(self) -> None:
        """Someone took the floor from us: stop sending and receive theirs."""
        await self._line.yield_presentation()

    async def receive_presentation(self) -> None:
        """After ``presentation_start``: slides line recvonly; the track arrives via on_track."""
        await self._line.receive_presentation()

    async def stop_receiving_presentation(self) -> None:
        await self._line.stop_receiving_presentation()

    def slides_unsettled(self) -> bool:
        """Direct media: the slides line contradicts whether we present."""
        return self._line.slides_unsettled()

    async def settle_slides(self) -> None:
        await self._line.settle_slides()

    # --- the application's controls (CallControls) ---------------------------------------

    def set_audio_muted(self, muted: bool) -> None:
        """Local mute: silence is sent instead of the source (REST mute is the session's)."""
        self._controls.set_audio_muted(muted)

    def set_video_muted(self, muted: bool) -> None:
        """Local video mute: black frames are sent instead of the source."""
        self._controls.set_video_muted(muted)

    def set_audio_source(self, track: MediaStreamTrack | None) -> None:
        self._controls.set_audio_source(track)

    def set_video_source(self, track: MediaStreamTrack | None) -> None:
        self._controls.set_video_source(track)

    async def send_dtmf(self, digits: str) -> None:
        """DTMF over REST (``calls/<id>/dtmf``), as Pexip's client does; never RTP events."""
        await self._controls.send_dtmf(digits)

    def send_message(self, payload: str, *, type: str = "text/plain") -> bool:
        """Chat over the data channel: True if sent now, False if queued until it opens."""
        return self._controls.send_message(payload, type=type)

    # --- statistics (CallSupervisor) -----------------------------------------------------

    @property
    def tracker(self) -> StatsTracker:
        return self._supervisor.tracker

    def stats(self) -> CallStats:
        """The latest statistics (sampled every second while the call is up)."""
        return self._supervisor.tracker.latest

    async def sample_stats(self) -> CallStats:
        """Sample statistics now."""
        return await self._supervisor.sample(time.monotonic())

    def set_stats_interval(self, seconds: float | None) -> None:
        """A new ``client_stats_update_interval`` (seconds; None stops posting)."""
        self._supervisor.set_interval(seconds)

    @property
    def statistics_posted(self) -> int:
        return self._supervisor.posted
