"""What the parts of a media call share: the signalling it needs, its state names and the
attributes every part of :class:`~pexbot.call.MediaCall` reads.

:class:`~pexbot.call.MediaCall` is one object made of one concept per module: set-up and
teardown (:mod:`pexbot.call`), offers both ways and crossings (:mod:`pexbot.call.negotiation`),
presentation (:mod:`pexbot.call.presenting`) and the application's controls
(:mod:`pexbot.call.controls`). :class:`CallBase` declares what they share, so each part is
type-checked on its own.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Literal, Protocol

from pexbot import wire
from pexbot.errors import CallError
from pexbot.events import CallDisconnected, NewCandidate, NewOffer, PeerDisconnected, UpdateSdp

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

    from pexbot.rtc.datachannel import PexChannel
    from pexbot.rtc.peer import Peer
    from pexbot.rtc.restart import RecoveryPolicy
    from pexbot.rtc.sdp import Direction, MediaRole
    from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack

    from .media import CallMedia
    from .options import CallOptions, CallTimings
    from .stats import StatsTracker
    from .supervisor import CallSupervisor

CallState = Literal["new", "waiting", "connecting", "connected", "reconnecting", "ended"]
CALL_EVENTS = (CallDisconnected, NewCandidate, NewOffer, UpdateSdp, PeerDisconnected)


class CallSignalling(Protocol):
    """What a media call needs from the session (the session's call and participant APIs)."""

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


class CallBase:
    """The attributes and internal steps the parts of a media call share (set in
    :class:`~pexbot.call.MediaCall`'s ``__init__``; documented there)."""

    _signalling: CallSignalling
    options: CallOptions
    roles: list[MediaRole]
    media: CallMedia
    audio: OutgoingAudioTrack
    video: OutgoingVideoTrack
    slides: OutgoingVideoTrack
    channel: PexChannel | None
    policy: RecoveryPolicy
    tracker: StatsTracker
    _supervisor: CallSupervisor
    _peer: Peer | None
    _last_pc: RTCPeerConnection | None
    _lock: asyncio.Lock
    _update: asyncio.Task[str | wire.UpdateResult] | None
    _closed: bool
    _stale_answer: bool
    _remote_answered: asyncio.Event
    polite: bool
    call_uuid: str | None
    offer_sdp: str | None
    answer_sdp: str | None
    slides_direction: Direction
    presenting: bool
    media_rejected: bool
    waiting_for_peer: bool
    restarts: int
    peers_answered: int
    timings: CallTimings
    ended: asyncio.Event
    end_reason: str | None

    def _require_peer(self) -> Peer:
        raise NotImplementedError

    def _new_peer(self) -> Peer:
        raise NotImplementedError

    async def _replace_peer(self) -> Peer:
        raise NotImplementedError

    async def _offer_calls(self, peer: Peer, t0: float) -> list[wire.TurnServer] | None:
        raise NotImplementedError

    async def set_slides_direction(self, direction: Direction) -> None:
        raise NotImplementedError

    async def close(self, reason: str = "closed") -> None:
        raise NotImplementedError

    def give_up(self, reason: str) -> None:
        raise NotImplementedError

    def _require_slides(self, what: str) -> None:
        if "slides" not in self.roles:
            raise CallError(
                f"cannot {what}: this {self.options.media_type} call has no presentation line"
                + (" (present='main')" if self.options.present == "main" else "")
            )
