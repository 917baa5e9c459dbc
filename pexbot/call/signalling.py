"""What a media call needs of the session (:class:`CallSignalling`), what it hears from it
(:data:`CALL_EVENTS`) and the states it goes through (:data:`CallState`).

The session implements the signalling over the REST API
(:mod:`pexbot.signalling.api.call_signalling`); tests hand the call an in-process one.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pexbot import wire
from pexbot.events import CallDisconnected, NewCandidate, NewOffer, PeerDisconnected, UpdateSdp

__all__ = ["CALL_EVENTS", "CallSignalling", "CallState"]

CallState = Literal["new", "waiting", "connecting", "connected", "reconnecting", "ended"]
#: the events the session's router hands a call (:meth:`pexbot.call.MediaCall.handle_event`)
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
