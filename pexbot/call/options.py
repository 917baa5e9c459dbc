"""What a media call is asked to do (options) and how long its set-up took (timings)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from aiortc import RTCIceServer

from pexbot import wire
from pexbot.rtc import ice
from pexbot.rtc.restart import RecoveryOptions
from pexbot.rtc.sdp_codecs import VideoCodec

from .stats import stats_interval_seconds


@dataclass(frozen=True)
class CallOptions:
    """How to set a call up. ``ice_servers`` empty means no STUN/TURN at all (aiortc would
    otherwise fall back to Google's public STUN server); take them from request_token with
    :meth:`from_token`. ``relay_only`` uses aiortc's relay transport policy: only TURN relay
    candidates are gathered, and mDNS remote candidates are ignored.

    ``direct_media``: the node brokers a peer-to-peer call (``request_token`` said so): a
    ``/calls`` answered empty means waiting for the far end's ``new_offer``. ``datachannel_id``
    opens the negotiated ``pexChannel`` (chat in direct media). ``stats_interval`` (seconds)
    posts statistics that often; ``post_stats`` None means in direct media only, as the spec
    has it. ``display_name`` / ``participant_uuid`` sign chat sent over the data channel.

    ``encoded_receive``: every receiving m-line hands its frames over undecoded: the tracks
    given to ``on_track`` return :class:`media.encoded.EncodedFrame` objects (no decoder runs).
    ``fast_rtp``: packets sent, and received on encoded m-lines, skip aiortc's per-packet
    machinery (:mod:`pexbot.rtc.rtp_fast`: no jitter buffer, no NACKs sent; loss is counted
    and answered with a PLI). For load: several times cheaper per packet. ``fast_send``: only
    the sending half of that. ``fast_repair``: sending as ``fast_send``, and encoded m-lines
    received by the shortcut *with* repair (:mod:`pexbot.rtc.repair_fast`: reordering undone,
    losses NACKed, receiver reports and REMB fed): a recorder.
    """

    media_type: wire.CallType = "video"
    #: "main": presentation comes inside main video; no slides m-line is offered
    present: Literal["main"] | None = None
    fecc_supported: bool = False
    #: put first in offers and in answers before applying them (Pexip's client: H.264)
    video_codec: VideoCodec = "h264"
    ice_servers: tuple[RTCIceServer, ...] = ()
    relay_only: bool = False
    ice_timeout: float = 20.0
    dtls_timeout: float = 10.0
    direct_media: bool = False
    datachannel_id: int | None = None
    stats_interval: float | None = None
    post_stats: bool | None = None
    display_name: str = ""
    participant_uuid: str = ""
    recovery: RecoveryOptions = field(default_factory=RecoveryOptions)
    encoded_receive: bool = False
    fast_rtp: bool = False
    fast_send: bool = False
    fast_repair: bool = False
    #: frames a second of the black picture sent while there is no video source
    filler_fps: float = 15.0

    @property
    def posts_stats(self) -> bool:
        if self.stats_interval is None:
            return False
        return self.direct_media if self.post_stats is None else self.post_stats

    @classmethod
    def from_token(cls, info: wire.RequestTokenResult, **overrides: Any) -> CallOptions:
        """Servers, relay policy, call type, direct media, data channel, statistics interval
        and identity from request_token."""
        base = cls(
            media_type=info.call_type or "video",
            ice_servers=tuple(ice.ice_servers(info.stun, info.turn)),
            relay_only=bool(info.use_relay_candidates_only),
            direct_media=bool(info.direct_media),
            datachannel_id=info.pex_datachannel_id,
            stats_interval=stats_interval_seconds(info.client_stats_update_interval),
            display_name=info.display_name,
            participant_uuid=info.participant_uuid,
        )
        return replace(base, **overrides)


@dataclass
class CallTimings:
    """Seconds from ``start()`` to each step (None until reached)."""

    posted: float | None = None
    answered: float | None = None
    acked: float | None = None
    ice_connected: float | None = None
    dtls_connected: float | None = None
