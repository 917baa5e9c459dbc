"""One WebRTC media call with a Pexip node: aiortc peer connection + the call REST functions.

The wire order is the one Pexip's own client produces (official-client-flow.md §5-§8, §18):
``POST calls`` with the offer as soon as it exists (no candidates in it) → ``new_candidate`` for
each local candidate → ``ack {}`` → end-of-candidates ``{candidate: "", mid: "0"}``. Later
changes of the presentation line go through ``update`` → answer applied → ``ack {}``.

The call never hands application tracks to aiortc directly: it sends long-lived
:mod:`pexbot.tracks` wrappers whose source can be swapped or muted (aiortc stops a sender's
track when the call closes, and a sender whose track ended never sends again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Literal, Protocol

from aiortc import RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from . import ice, wire
from .call_options import CallOptions, CallTimings
from .errors import CallError, NegotiationError, PexbotError
from .sdp import (
    Direction,
    MediaRole,
    add_content,
    all_rejected,
    mids,
    offer_roles,
    sections_without_ssrc,
    strip_candidates,
)
from .sdp_codecs import prefer_video_codec
from .sdp_remote import (
    candidate_usable,
    copy_candidates_to_bundle,
    sanitise_remote,
)
from .tracks import OutgoingAudioTrack, OutgoingVideoTrack

__all__ = ["CallOptions", "CallSignalling", "CallTimings", "MediaCall", "OnTrack", "TrackRole"]

log = logging.getLogger(__name__)

TrackRole = Literal["main", "presentation"]
OnTrack = Callable[[TrackRole, MediaStreamTrack], None]
_MAX_PENDING_CANDIDATES = 200


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


class MediaCall:
    """A Pexip media call: audio, main video and (for ``video`` calls) presentation.

    ``audio`` / ``video`` are the application's sources (any aiortc track; they can be swapped
    later with :meth:`set_audio_source` / :meth:`set_video_source` and are never stopped by the
    call). Every remote track is handed to ``on_track(role, track)``, role ``"main"`` (audio and
    video) or ``"presentation"``; whoever takes a track must keep reading it (aiortc buffers
    decoded frames without bound). Without ``on_track`` the call reads and discards them.
    """

    def __init__(
        self,
        signalling: CallSignalling,
        options: CallOptions | None = None,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        on_track: OnTrack | None = None,
    ) -> None:
        self._signalling = signalling
        self.options = options or CallOptions()
        self.roles: list[MediaRole] = offer_roles(self.options.media_type, self.options.present)
        self.audio = OutgoingAudioTrack(audio)
        self.video = OutgoingVideoTrack(video)
        self.slides = OutgoingVideoTrack(None, fps=5.0)
        self._on_track = on_track
        self._pc: RTCPeerConnection | None = None
        self._lock = asyncio.Lock()
        self._pending: list[tuple[str, str | None]] = []
        self._remote_applied = False
        self._closed = False
        self.call_uuid: str | None = None
        self.offer_sdp: str | None = None  # as POSTed
        self.answer_sdp: str | None = None  # as applied
        self.slides_direction: Direction = "inactive"
        self.presenting = False
        #: the node refused every m-line (a signalling-only node): the call has no media
        self.media_rejected = False
        self.timings = CallTimings()
        self._drains: set[asyncio.Task[None]] = set()
        self.ended = asyncio.Event()
        self.end_reason: str | None = None

    def __repr__(self) -> str:
        state = self._pc.connectionState if self._pc else "not started"
        return f"MediaCall(call_uuid={self.call_uuid!r}, {self.options.media_type}, {state})"

    @property
    def pc(self) -> RTCPeerConnection:
        if self._pc is None:
            raise CallError("the call has not been started")
        return self._pc

    # --- set-up ------------------------------------------------------------------------

    async def start(self) -> None:
        """Offer, trickle, ack and wait until media can flow (ICE + DTLS up).

        Raises NegotiationError, IceTimeout or DtlsTimeout (the call is then disconnected and
        closed), or the signalling's own errors.
        """
        if self._pc is not None:
            raise CallError(f"start() called twice ({self!r})")
        t0 = time.monotonic()
        pc = RTCPeerConnection(
            ice.configuration(self.options.ice_servers, relay_only=self.options.relay_only)
        )
        self._pc = pc
        pc.on("track", self._track_arrived)
        pc.on("connectionstatechange", self._state_changed)
        try:
            for role in self.roles:
                self._add_transceiver(pc, role)
            offer = await pc.createOffer()
            text = prefer_video_codec(offer.sdp, self.options.video_codec)
            self.offer_sdp = add_content(strip_candidates(text), self.roles)
            body = wire.CallsBody(
                sdp=self.offer_sdp,
                media_type=self.options.media_type,
                present=self.options.present,
                fecc_supported=self.options.fecc_supported,
            )
            result = await self._post_offer(pc, text, body)
            self.timings.posted = time.monotonic() - t0
            if result.waits_for_peer:
                raise NegotiationError(
                    "the node ignored the offer and waits for a direct-media peer "
                    "(new_offer); direct media is not supported by MediaCall yet"
                )
            self.call_uuid = result.call_uuid
            if result.turn:
                log.info(
                    "ignoring %d TURN-443 servers: aiortc cannot restart ICE", len(result.turn)
                )
            self.media_rejected = all_rejected(result.sdp)
            if self.media_rejected:
                log.warning("call %s: the node refused every m-line; no media", self.call_uuid)
            else:
                await self._apply_answer(result.sdp)
            self.timings.answered = time.monotonic() - t0
            for candidate in ice.local_candidates(pc, relay_only=self.options.relay_only):
                await self._signalling.new_candidate(self.call_uuid, candidate)
            await self._signalling.ack(self.call_uuid, wire.AckBody())
            self.timings.acked = time.monotonic() - t0
            await self._signalling.new_candidate(self.call_uuid, ice.end_of_candidates())
            if self.media_rejected:
                return
            ice_s, dtls_s = await ice.wait_connected(
                pc, ice_timeout=self.options.ice_timeout, dtls_timeout=self.options.dtls_timeout
            )
            self.timings.ice_connected = self.timings.acked + ice_s
            self.timings.dtls_connected = self.timings.ice_connected + dtls_s
        except BaseException as exc:
            reason = f"call set-up failed: {exc}" if isinstance(exc, Exception) else "cancelled"
            await self._abort(reason)
            raise
        log.info(
            "call %s connected in %.2f s (ICE %.2f s after ack)",
            self.call_uuid,
            self.timings.dtls_connected,
            ice_s,
        )

    async def _post_offer(
        self, pc: RTCPeerConnection, offer: str, body: wire.CallsBody
    ) -> wire.CallsResult:
        # Like Pexip's client, POST the offer at once: aiortc gathers candidates inside
        # setLocalDescription (seconds with an unreachable STUN server), so that runs meanwhile.
        gathering = asyncio.get_running_loop().create_task(
            pc.setLocalDescription(RTCSessionDescription(offer, "offer"))
        )
        try:
            result = await self._signalling.post_calls(body)
            await gathering
        finally:
            if not gathering.done():
                gathering.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await gathering
        return result

    def _add_transceiver(self, pc: RTCPeerConnection, role: MediaRole) -> RTCRtpTransceiver:
        if role == "audio":
            return pc.addTransceiver(self.audio, direction="sendrecv")
        if role == "video":
            return pc.addTransceiver(self.video, direction="sendrecv")
        # Pexip's client offers the presentation line inactive until someone presents.
        return pc.addTransceiver(self.slides, direction=self.slides_direction)

    async def _apply_answer(self, sdp: str) -> None:
        assert self.offer_sdp is not None
        answer = sanitise_remote(sdp, local_offer=self.offer_sdp)
        answer = prefer_video_codec(answer, self.options.video_codec)
        # MAX_BUNDLE: every m-line of ours is on one transport, whatever the answer groups.
        answer = copy_candidates_to_bundle(answer, mids(answer))
        missing = sections_without_ssrc(answer)
        if missing:
            log.warning("answer names no SSRC for mids %s: nothing will arrive on them", missing)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as exc:  # aiortc raises ValueError, AssertionError, OperationError...
            raise NegotiationError(f"the node's answer could not be applied: {exc!r}") from exc
        self.answer_sdp = answer
        self._remote_applied = True
        pending, self._pending = self._pending, []
        for candidate, mid in pending:
            await self._add_candidate(candidate, mid)

    # --- renegotiation -----------------------------------------------------------------

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
        async with self._lock:
            pc = self.pc
            if self.call_uuid is None or self._closed:
                raise CallError(f"cannot renegotiate: {self!r}")
            transceiver = pc.getTransceivers()[self.roles.index("slides")]
            transceiver.direction = direction
            self.slides_direction = direction
            offer = await pc.createOffer()
            text = prefer_video_codec(offer.sdp, self.options.video_codec)
            await pc.setLocalDescription(RTCSessionDescription(text, "offer"))
            self.offer_sdp = add_content(text, self.roles)
            body = wire.UpdateBody(sdp=self.offer_sdp, fecc_supported=self.options.fecc_supported)
            result = await self._signalling.update(self.call_uuid, body)
            answer = result if isinstance(result, str) else result.sdp
            if not answer:
                log.warning("update of call %s answered with an empty SDP; ignored", self.call_uuid)
                return
            await self._apply_answer(answer)
            await self._signalling.ack(self.call_uuid, wire.AckBody())

    def _require_slides(self, what: str) -> None:
        if "slides" not in self.roles:
            raise CallError(
                f"cannot {what}: this {self.options.media_type} call has no presentation line"
                + (" (present='main')" if self.options.present == "main" else "")
            )

    # --- candidates from the node (direct media) ----------------------------------------

    async def add_remote_candidate(self, candidate: str, mid: str | None) -> None:
        """A candidate trickled by the far end (``""``: end of candidates); held back until
        the answer has been applied."""
        if not self._remote_applied:
            if len(self._pending) < _MAX_PENDING_CANDIDATES:
                self._pending.append((candidate, mid))
            return
        await self._add_candidate(candidate, mid)

    async def _add_candidate(self, candidate: str, mid: str | None) -> None:
        if candidate and not candidate_usable(candidate):
            log.debug("skipping remote candidate aiortc cannot use")
            return
        parsed = ice.remote_candidate(candidate, ice.transport_mid(self.pc, mid))
        await self.pc.addIceCandidate(parsed)

    # --- controls ------------------------------------------------------------------------

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
        """Close the peer connection (no REST). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.end_reason is None:
            self.end_reason = reason
        if self._pc is not None:
            await self._pc.close()
        for task in list(self._drains):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.ended.set()

    async def _abort(self, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(self.disconnect(reason))

    # --- aiortc events -------------------------------------------------------------------

    def _track_arrived(self, track: MediaStreamTrack) -> None:
        for index, transceiver in enumerate(self.pc.getTransceivers()):
            if transceiver.receiver.track is track and index < len(self.roles):
                role: TrackRole = "presentation" if self.roles[index] == "slides" else "main"
                log.debug("remote %s track on the %s line", track.kind, self.roles[index])
                if self._on_track is not None:
                    self._on_track(role, track)
                else:
                    # aiortc queues decoded frames without bound until they are read.
                    task = asyncio.get_running_loop().create_task(_drain(track))
                    self._drains.add(task)
                    task.add_done_callback(self._drains.discard)
                return

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        if state == "failed" and self.end_reason is None:
            self.end_reason = "media connection failed"
            self.ended.set()
        elif state == "closed":
            self.ended.set()


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
