"""The forwarding media backend (``--media forward``): an SFU-style emulator for load.

Every call is answered by aiortc like the other backends (:class:`~.aiortc_backend.
AiortcMediaBackend`), but nothing is decoded or encoded: each of the emulator's receivers is
tapped right after the offer is applied (:func:`pexbot.rtc.encoded.tap_encoded`), so its
frames arrive still encoded, and go straight to the :class:`~.forward_tracks.ForwardTrack` of
every participant forwarded that source (:class:`~.forward_router.ForwardRouter` says who
gets whom: one other participant's audio and video, the presenter's slides, a test call its
own media). aiortc's senders packetize those frames as they are. So the cost per participant
is receiving, copying and sending packets, and one emulator process can host hundreds of load
bots. Composing stays the default for fidelity.

Codec: one for the whole emulator. Each offer is cut down to that video codec (VP8 by default,
or H.264) and Opus (:func:`.forward_sdp.single_codec_offer`), so every sender and receiver of a
room use the same one; a caller that offers no such codec is refused.

Keyframes: a receiver's PLI/FIR to the emulator's sender (:func:`pexbot.rtc.encoded.
on_keyframe_request`), a forward track that starts, switches source or overflows: each asks
the source, through the emulator's receiver of that source (:func:`pexbot.rtc.encoded.
request_keyframe`), at most once per source per ``keyframe_interval``.

What a forwarder cannot do, said plainly: no audio mix (one participant's Opus, not a mix), no
voice activity (the stage stays in spotlight and join order), no waiting card (nothing is sent
until there is someone to forward), no presentation JPEGs (``presentation_frame`` needs a
decoded picture; the JPEG routes serve the placeholder), and built-in participants send
nothing (their media is made as pictures, which would have to be encoded).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Mapping, Sequence

from aiortc import RTCIceServer, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack

from media.encoded import EncodedFrame
from pexbot.rtc.encoded import (
    TapStats,
    is_tapped,
    on_keyframe_request,
    request_keyframe,
    tap_encoded,
)
from pexbot.rtc.sdp import MediaRole, section_roles
from pexbot.rtc.sdp_codecs import VideoCodec
from pexbot.rtc.tracks import SendingTrack

from .aiortc_backend import AiortcMediaBackend
from .backend import CallContext
from .forward_router import FORWARD_LAYOUT, ForwardRouter
from .forward_sdp import codec_name, single_codec_offer
from .forward_tracks import ForwardTrack, KeyframeRequests, SourceKey
from .router import Leg, MediaRouter

log = logging.getLogger(__name__)

__all__ = ["ForwardBackend"]


class ForwardBackend(AiortcMediaBackend):
    """A :class:`~.backend.MediaBackend` that forwards encoded media between participants."""

    def __init__(
        self,
        *,
        video_codec: VideoCodec = "vp8",
        ice_servers: Sequence[RTCIceServer] = (),
        keyframe_interval: float = 0.5,
    ) -> None:
        super().__init__(
            router_factory=self._new_router, ice_servers=ice_servers, video_codec=video_codec
        )
        self.codec: VideoCodec = video_codec
        self.keyframes = KeyframeRequests(self._send_pli, interval=keyframe_interval)
        #: receivers that had started before they could be tapped (would decode): should be 0
        self.untapped = 0
        self._tracks: dict[str, dict[MediaRole, ForwardTrack]] = {}  # by call uuid
        self._gates: dict[str, asyncio.Event] = {}
        self._receivers: dict[SourceKey, RTCRtpReceiver] = {}  # the live one of each source
        self._taps: dict[SourceKey, TapStats] = {}
        self._hooked: weakref.WeakSet[RTCRtpSender] = weakref.WeakSet()

    @property
    def forward_layout(self) -> str:
        """What every participant is shown (:class:`~.backend.ForwardingBackend`)."""
        return FORWARD_LAYOUT

    # --- inspection (tests, benchmarks) --------------------------------------------------

    def tracks(self, call_uuid: str) -> Mapping[MediaRole, ForwardTrack]:
        """The forward tracks a call is sent, by role."""
        return dict(self._tracks.get(call_uuid, {}))

    def tap_stats(self, call_uuid: str, role: MediaRole) -> TapStats | None:
        """What the emulator's receiver of that call and role has taken in, undecoded."""
        return self._taps.get((call_uuid, role))

    def receivers(self) -> list[RTCRtpReceiver]:
        return list(self._receivers.values())

    # --- MediaBackend --------------------------------------------------------------------

    async def open_call(self, call: CallContext, offer_sdp: str) -> str:
        if call.call_uuid in self._tracks:
            await self.close_call(call.call_uuid)
        offer = offer_sdp
        if offer_sdp.lstrip().startswith("v=0") and "\nm=" in offer_sdp:
            offer = single_codec_offer(offer_sdp, self.codec)  # else the base says what's wrong
        gate = self._gates[call.call_uuid] = asyncio.Event()
        self._tracks[call.call_uuid] = {
            role: self._new_track(role, gate) for role in section_roles(offer) if role is not None
        }
        return await super().open_call(call, offer)

    async def update_call(self, call_uuid: str, offer_sdp: str) -> str:
        offer = offer_sdp
        if offer_sdp.lstrip().startswith("v=0") and "\nm=" in offer_sdp:
            offer = single_codec_offer(offer_sdp, self.codec)
        return await super().update_call(call_uuid, offer)

    async def ack(self, call_uuid: str) -> None:
        await super().ack(call_uuid)
        gate = self._gates.get(call_uuid)
        if gate is not None:
            gate.set()

    async def close_call(self, call_uuid: str) -> None:
        await super().close_call(call_uuid)  # the router still sees the call's tracks
        for track in self._tracks.pop(call_uuid, {}).values():
            track.stop()
        self._gates.pop(call_uuid, None)
        for key in [k for k in self._receivers if k[0] == call_uuid]:
            del self._receivers[key]
        self.keyframes.forget(call_uuid)

    async def aclose(self) -> None:
        await super().aclose()
        await self.keyframes.aclose()

    # --- hooks of the aiortc backend -----------------------------------------------------

    def _remote_description_set(
        self, pc: RTCPeerConnection, leg: Leg, roles: Sequence[MediaRole | None]
    ) -> None:
        call_uuid = leg.call.call_uuid
        tracks = self._tracks.get(call_uuid, {})
        for transceiver in pc.getTransceivers():
            index = transceiver._get_mline_index()
            role = roles[index] if index is not None and index < len(roles) else None
            if role is None:
                continue
            key: SourceKey = (call_uuid, role)
            receiver = transceiver.receiver
            if not is_tapped(receiver):
                stats = tap_encoded(receiver, on_frame=functools.partial(self._frame_in, leg, key))
                if stats is None:
                    self.untapped += 1
                    log.warning("call %s %s: receiver started before it could be tapped", *key)
                else:
                    self._taps[key] = stats
            self._receivers[key] = receiver
            track = tracks.get(role)
            if track is not None and transceiver.sender not in self._hooked:
                self._hooked.add(transceiver.sender)
                on_keyframe_request(transceiver.sender, track.keyframe_requested)

    def _sender_track(self, leg: Leg, role: MediaRole) -> MediaStreamTrack:
        # A view (aiortc stops the sender's track with its connection; ours goes on).
        return SendingTrack(self._tracks[leg.call.call_uuid][role])

    # --- internals -----------------------------------------------------------------------

    def _new_router(self, room: str) -> MediaRouter:
        return ForwardRouter(room, self._tracks_of)

    def _tracks_of(self, leg: Leg) -> Mapping[MediaRole, ForwardTrack]:
        return self._tracks.get(leg.call.call_uuid, {})

    def _new_track(self, role: MediaRole, gate: asyncio.Event) -> ForwardTrack:
        if role == "audio":
            return ForwardTrack("audio", "opus", ask_keyframe=self.keyframes.request, gate=gate)
        return ForwardTrack(
            "video", codec_name(self.codec), ask_keyframe=self.keyframes.request, gate=gate
        )

    def _frame_in(self, leg: Leg, source: SourceKey, frame: EncodedFrame) -> None:
        # The leg's room, looked up each time: a participant moved to a breakout goes on.
        router = self.router(leg.room)
        if isinstance(router, ForwardRouter):
            router.frame_in(source, frame)

    async def _send_pli(self, source: SourceKey) -> None:
        receiver = self._receivers.get(source)
        if receiver is not None:
            await request_keyframe(receiver)
