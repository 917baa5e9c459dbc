"""What a media call is asked to do (options) and how long its set-up took (timings)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from aiortc import RTCIceServer

from . import ice, wire
from .sdp_codecs import VideoCodec


@dataclass(frozen=True)
class CallOptions:
    """How to set a call up. ``ice_servers`` empty means no STUN/TURN at all (aiortc would
    otherwise fall back to Google's public STUN server); take them from request_token with
    :meth:`from_token`. ``relay_only`` uses aiortc's relay transport policy: only TURN relay
    candidates are gathered, and mDNS remote candidates are ignored."""

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

    @classmethod
    def from_token(cls, info: wire.RequestTokenResult, **overrides: Any) -> CallOptions:
        """Servers, relay policy and call type from request_token (nothing else)."""
        base = cls(
            media_type=info.call_type or "video",
            ice_servers=tuple(ice.ice_servers(info.stun, info.turn)),
            relay_only=bool(info.use_relay_candidates_only),
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
