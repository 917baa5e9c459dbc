"""The forwarding media backend (``--media forward``): an SFU-style emulator for load.

Every call is answered by aiortc like the other backends (:class:`~.aiortc_backend.
AiortcMediaBackend`), but nothing is decoded or encoded, and (on the RTP path, the default)
aiortc handles no media packet: each of the emulator's receivers is registered, right after
the offer is applied, with its transport's :class:`pexbot.rtc.rtp_fast.FastReceive`, so its
packets come synchronously to an :class:`~.forward_fast.RtpSource`, which hands each one to
the :class:`~.forward_fast.RtpOutput` of every participant forwarded that source
(:class:`~.forward_router.ForwardRouter` says who gets whom: one other participant's audio and
video, the presenter's slides, a test call its own media). An output rewrites the header for
its destination (:mod:`.forward_rtp`: SSRC, payload type, extensions, continuous sequence
numbers and timestamps across source switches, video gated on a keyframe after a switch) and
sends it at once on the destination's transport; the destination's aiortc sender sends
nothing itself but answers RTCP (PLI/FIR go upstream, NACKs are answered from a history). So
the cost per participant is little more than unprotecting and protecting its packets, and one
emulator process can host hundreds of load bots. Composing stays the default for fidelity.

The frame path is what runs when the RTP path cannot (an aiortc version the shortcuts were not
checked against, or ``ForwardBackend(rtp=False)``): receivers are tapped for encoded frames
(:func:`pexbot.rtc.encoded.tap_encoded`), which go to a :class:`~.forward_tracks.ForwardTrack`
per destination that aiortc's sender packetizes again. :attr:`ForwardBackend.path` says which
runs (logged when the backend starts; :meth:`ForwardBackend.forward_stats` counts packets that
took the fast path and those aiortc handled, and is logged when the backend closes). Receivers
are tapped on the RTP path too, so a packet aiortc's path takes (the first of an SSRC it does
not know yet) is never decoded.

Codec: one for the whole emulator. Each offer is cut down to that video codec (VP8 by default,
or H.264) and Opus (:func:`.forward_sdp.single_codec_offer`), so every sender and receiver of a
room use the same one; a caller that offers no such codec is refused.

Keyframes: a receiver's PLI/FIR to the emulator's sender (:func:`pexbot.rtc.encoded.
on_keyframe_request`), an output or forward track that starts, switches source or overflows:
each asks the source (a PLI from the emulator's receiver of that source: :meth:`.forward_fast.
RtpSource.pli`, or :func:`pexbot.rtc.encoded.request_keyframe` on the frame path), at most once
per source per ``keyframe_interval``.

What a forwarder cannot do, said plainly: no audio mix (one participant's Opus, not a mix), no
voice activity (the stage stays in spotlight and join order), no waiting card (nothing is sent
until there is someone to forward), no presentation JPEGs (``presentation_frame`` needs a
decoded picture; the JPEG routes serve the placeholder), and built-in participants send
nothing (their media is made as pictures, which would have to be encoded).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aiortc import RTCIceServer, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack

from media.encoded import EncodedFrame
from pexbot.rtc.aiortc_compat import aiortc_tested
from pexbot.rtc.encoded import (
    TapStats,
    is_tapped,
    on_keyframe_request,
    request_keyframe,
    tap_encoded,
)
from pexbot.rtc.rtp_fast import FastReceive
from pexbot.rtc.sdp import MediaRole, section_roles
from pexbot.rtc.sdp_codecs import VideoCodec
from pexbot.rtc.tracks import SendingTrack

from .aiortc_backend import AiortcMediaBackend
from .backend import CallContext
from .forward_fast import IdleTrack, RtpOutput, RtpSource
from .forward_router import FORWARD_LAYOUT, ForwardRouter
from .forward_sdp import codec_name, single_codec_offer
from .forward_tracks import ForwardTrack, KeyframeRequests, SourceKey
from .router import Leg, MediaRouter

log = logging.getLogger(__name__)

__all__ = ["ForwardBackend", "ForwardPath"]

#: how packets are forwarded: rewritten RTP (the fast path) or re-packetized frames
ForwardPath = Literal["rtp", "frames"]
_CLOCK = {"audio": 48000, "video": 90000}


class ForwardBackend(AiortcMediaBackend):
    """A :class:`~.backend.MediaBackend` that forwards encoded media between participants:
    RTP packets rewritten (``rtp=True``, when this aiortc allows it), else frames."""

    def __init__(
        self,
        *,
        video_codec: VideoCodec = "vp8",
        ice_servers: Sequence[RTCIceServer] = (),
        keyframe_interval: float = 0.5,
        rtp: bool = True,
    ) -> None:
        super().__init__(
            router_factory=self._new_router, ice_servers=ice_servers, video_codec=video_codec
        )
        self.codec: VideoCodec = video_codec
        self.path: ForwardPath = "rtp" if rtp and aiortc_tested() else "frames"
        self.keyframes = KeyframeRequests(self._send_pli, interval=keyframe_interval)
        #: receivers that had started before they could be tapped (would decode): should be 0
        self.untapped = 0
        #: receivers whose transport could not be hooked on the RTP path (sent nothing): 0
        self.not_hooked = 0
        self._tracks: dict[str, dict[MediaRole, ForwardTrack]] = {}  # by call uuid (frames)
        self._outputs: dict[str, dict[MediaRole, RtpOutput]] = {}  # by call uuid (rtp)
        self._gates: dict[str, asyncio.Event] = {}
        self._receivers: dict[SourceKey, RTCRtpReceiver] = {}  # the live one of each source
        self._rtp_sources: dict[SourceKey, RtpSource] = {}
        self._hooks: dict[str, list[FastReceive]] = {}  # by call uuid
        self._taps: dict[SourceKey, TapStats] = {}
        self._hooked: weakref.WeakSet[RTCRtpSender] = weakref.WeakSet()
        self._closed_counts: dict[str, int] = {}  # counters of calls gone
        if self.path == "rtp":
            log.info("forward backend: packets forwarded by the RTP fast path")
        else:
            log.info(
                "forward backend: frames re-packetized by aiortc (RTP fast path %s)",
                "turned off" if not rtp else "unavailable with this aiortc",
            )

    @property
    def forward_layout(self) -> str:
        """What every participant is shown (:class:`~.backend.ForwardingBackend`)."""
        return FORWARD_LAYOUT

    # --- inspection (tests, benchmarks) --------------------------------------------------

    def tracks(self, call_uuid: str) -> Mapping[MediaRole, ForwardTrack]:
        """The forward tracks a call is sent, by role (frame path)."""
        return dict(self._tracks.get(call_uuid, {}))

    def outputs(self, call_uuid: str) -> Mapping[MediaRole, RtpOutput]:
        """The RTP outputs a call is sent, by role (RTP path)."""
        return dict(self._outputs.get(call_uuid, {}))

    def tap_stats(self, call_uuid: str, role: MediaRole) -> TapStats | None:
        """What the emulator's receiver of that call and role has taken in as frames (on the
        RTP path: only what aiortc's own path handled)."""
        return self._taps.get((call_uuid, role))

    def receivers(self) -> list[RTCRtpReceiver]:
        return list(self._receivers.values())

    def forward_stats(self) -> dict[str, Any]:
        """Which path runs and what it carried, over every call so far."""
        counts = dict(self._closed_counts)
        for hooks in self._hooks.values():
            for hook in hooks:
                _add(counts, fast_packets=hook.fast_packets, slow_packets=hook.slow_packets)
        for outputs in self._outputs.values():
            for output in outputs.values():
                _add_output(counts, output)
        for tracks in self._tracks.values():
            for track in tracks.values():
                _add(counts, frames_forwarded=track.stats.forwarded)
        return {
            "path": self.path,
            **counts,
            "keyframe_requests_sent": self.keyframes.sent,
            "untapped": self.untapped,
            "not_hooked": self.not_hooked,
        }

    # --- MediaBackend --------------------------------------------------------------------

    async def open_call(self, call: CallContext, offer_sdp: str) -> str:
        uuid = call.call_uuid
        if uuid in self._tracks or uuid in self._outputs:
            await self.close_call(uuid)
        offer = offer_sdp
        if offer_sdp.lstrip().startswith("v=0") and "\nm=" in offer_sdp:
            offer = single_codec_offer(offer_sdp, self.codec)  # else the base says what's wrong
        gate = self._gates[uuid] = asyncio.Event()
        roles = [role for role in section_roles(offer) if role is not None]
        if self.path == "rtp":
            self._outputs[uuid] = {role: self._new_output(role, gate) for role in roles}
        else:
            self._tracks[uuid] = {role: self._new_track(role, gate) for role in roles}
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
        await super().close_call(call_uuid)  # the router still sees the call's outputs
        for track in self._tracks.pop(call_uuid, {}).values():
            _add(self._closed_counts, frames_forwarded=track.stats.forwarded)
            track.stop()
        for output in self._outputs.pop(call_uuid, {}).values():
            _add_output(self._closed_counts, output)
            output.close()
        for hook in self._hooks.pop(call_uuid, []):
            _add(
                self._closed_counts, fast_packets=hook.fast_packets, slow_packets=hook.slow_packets
            )
            hook.close()
        self._gates.pop(call_uuid, None)
        for key in [k for k in self._receivers if k[0] == call_uuid]:
            del self._receivers[key]
            self._rtp_sources.pop(key, None)
        self.keyframes.forget(call_uuid)

    async def aclose(self) -> None:
        await super().aclose()
        await self.keyframes.aclose()
        log.info("forward backend closed: %s", json.dumps(self.forward_stats()))

    # --- hooks of the aiortc backend -----------------------------------------------------

    def _remote_description_set(
        self, pc: RTCPeerConnection, leg: Leg, roles: Sequence[MediaRole | None]
    ) -> None:
        call_uuid = leg.call.call_uuid
        rtp = self.path == "rtp"
        for transceiver in pc.getTransceivers():
            index = transceiver._get_mline_index()
            role = roles[index] if index is not None and index < len(roles) else None
            if role is None:
                continue
            key: SourceKey = (call_uuid, role)
            receiver = transceiver.receiver
            if not is_tapped(receiver):
                # On the RTP path too: what aiortc's path gets must not be decoded.
                on_frame = _ignore if rtp else functools.partial(self._frame_in, leg, key)
                stats = tap_encoded(receiver, on_frame=on_frame)
                if stats is None:
                    self.untapped += 1
                    log.warning("call %s %s: receiver started before it could be tapped", *key)
                else:
                    self._taps[key] = stats
            self._receivers[key] = receiver
            if rtp:
                self._fast_receive(leg, key, transceiver)
                output = self._outputs.get(call_uuid, {}).get(role)
                if output is not None:
                    output.attach(transceiver)
                continue
            track = self._tracks.get(call_uuid, {}).get(role)
            if track is not None and transceiver.sender not in self._hooked:
                self._hooked.add(transceiver.sender)
                on_keyframe_request(transceiver.sender, track.keyframe_requested)

    def _sender_track(self, leg: Leg, role: MediaRole) -> MediaStreamTrack:
        if self.path == "rtp":
            return IdleTrack("audio" if role == "audio" else "video")  # outputs send
        # A view (aiortc stops the sender's track with its connection; ours goes on).
        return SendingTrack(self._tracks[leg.call.call_uuid][role])

    # --- internals -----------------------------------------------------------------------

    def _new_router(self, room: str) -> MediaRouter:
        if self.path == "rtp":
            return ForwardRouter(room, self._outputs_of)
        return ForwardRouter(room, self._tracks_of)

    def _tracks_of(self, leg: Leg) -> Mapping[MediaRole, ForwardTrack]:
        return self._tracks.get(leg.call.call_uuid, {})

    def _outputs_of(self, leg: Leg) -> Mapping[MediaRole, RtpOutput]:
        return self._outputs.get(leg.call.call_uuid, {})

    def _new_track(self, role: MediaRole, gate: asyncio.Event) -> ForwardTrack:
        if role == "audio":
            return ForwardTrack("audio", "opus", ask_keyframe=self.keyframes.request, gate=gate)
        return ForwardTrack(
            "video", codec_name(self.codec), ask_keyframe=self.keyframes.request, gate=gate
        )

    def _new_output(self, role: MediaRole, gate: asyncio.Event) -> RtpOutput:
        kind = "audio" if role == "audio" else "video"
        codec = "opus" if kind == "audio" else codec_name(self.codec)
        return RtpOutput(kind, codec, _CLOCK[kind], ask_keyframe=self.keyframes.request, gate=gate)

    def _fast_receive(self, leg: Leg, key: SourceKey, transceiver: Any) -> None:
        receiver = transceiver.receiver
        hook = FastReceive.install(receiver.transport)
        codecs = getattr(transceiver, "_codecs", None)
        if hook is None or not codecs:
            self.not_hooked += 1
            log.warning("call %s %s: RTP fast path not installed; nothing forwarded", *key)
            return
        hooks = self._hooks.setdefault(key[0], [])
        if hook not in hooks:
            hooks.append(hook)
        source = RtpSource(
            key,
            receiver,
            codecs[0].payloadType,
            transceiver.sender._ssrc,  # aiortc's receiver reports as its sender's SSRC
            functools.partial(self._subscribed, leg, key),
        )
        hook.register(receiver, source.handle)
        self._rtp_sources[key] = source

    def _subscribed(self, leg: Leg, source: SourceKey) -> Sequence[RtpOutput]:
        # The leg's room, looked up each time: a participant moved to a breakout goes on.
        router = self.router(leg.room)
        return router.subscribed(source) if isinstance(router, ForwardRouter) else ()

    def _frame_in(self, leg: Leg, source: SourceKey, frame: EncodedFrame) -> None:
        router = self.router(leg.room)
        if isinstance(router, ForwardRouter):
            for track in router.subscribed(source):
                track.push(source, frame)

    async def _send_pli(self, source: SourceKey) -> None:
        fast = self._rtp_sources.get(source)
        if fast is not None and fast.pli():
            return
        receiver = self._receivers.get(source)
        if receiver is not None:
            await request_keyframe(receiver)


def _ignore(frame: EncodedFrame) -> None:
    pass  # a frame aiortc's path completed on the RTP path: counted by the tap, not sent


def _add(counts: dict[str, int], **values: int) -> None:
    for name, value in values.items():
        counts[name] = counts.get(name, 0) + value


def _add_output(counts: dict[str, int], output: RtpOutput) -> None:
    stats, rewriter = output.stats, output.rewriter.stats
    _add(
        counts,
        packets_sent=stats.sent,
        packets_not_sent=stats.not_sent,
        retransmitted=stats.retransmitted,
        keyframe_requests_received=stats.keyframe_requests,
        waiting_for_keyframe=rewriter.waiting,
        stale=rewriter.stale,
        switches=rewriter.switches,
    )
