"""Call functions (``participants/<uuid>/calls/<call_uuid>/<request>``)."""

from __future__ import annotations

from typing import Literal

from pexbot import wire

from .base import ApiContext, parse, parse_as, seg


class CallApi:
    """One media call of a participant (ours, normally)."""

    def __init__(
        self, ctx: ApiContext, participant_uuid: str, call_uuid: str, *, prefix: str = ""
    ) -> None:
        self._ctx = ctx
        self.participant_uuid = participant_uuid
        self.call_uuid = call_uuid
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"CallApi({self.participant_uuid!r}, {self.call_uuid!r}, prefix={self.prefix!r})"

    def _path(self, request: str) -> str:
        return (
            f"{self.prefix}participants/{seg(self.participant_uuid)}"
            f"/calls/{seg(self.call_uuid)}/{request}"
        )

    @property
    def _host_only(self) -> bool:
        # Someone else's call can only be touched by a host.
        return self.participant_uuid != self._ctx.me

    async def ack(self, body: wire.AckBody | None = None) -> bool:
        """``ack``: start media. ``{}`` after our offer was answered; ``{"sdp": answer}``
        after we answered a ``new_offer`` / ``update_sdp``."""
        return await self._ctx.post_bool(
            self._path("ack"), body or wire.AckBody(), host_only=self._host_only
        )

    async def disconnect(self) -> None:
        """``disconnect``: end this call (the participant and its token stay)."""
        await self._ctx.post(self._path("disconnect"), host_only=self._host_only)

    async def dtmf(self, digits: str) -> bool:
        """``dtmf``: DTMF to the far end of a gateway call."""
        body = wire.DtmfBody(digits=digits)
        return await self._ctx.post_bool(self._path("dtmf"), body, host_only=self._host_only)

    async def new_candidate(self, body: wire.NewCandidateBody) -> None:
        """``new_candidate``: one trickled ICE candidate (``candidate=""``: end of candidates)."""
        await self._ctx.post(self._path("new_candidate"), body, host_only=self._host_only)

    async def update(self, body: wire.UpdateBody) -> str | wire.UpdateResult:
        """``update``: a new offer; the node answers with a bare SDP or ``{call_uuid, sdp}``."""
        path = self._path("update")
        result = await self._ctx.post(path, body, host_only=self._host_only)
        if isinstance(result, dict):
            return parse(wire.UpdateResult, result, path)
        answer: str = parse_as(str, result, path)
        return answer

    async def fecc(
        self,
        action: Literal["start", "stop", "continue"],
        movement: list[wire.FeccMovement],
        *,
        duration_ms: float | None = None,
    ) -> bool:
        """``fecc``: far-end camera control on a gateway call; ``duration_ms`` is the
        wire ``timeout`` (1000 for a first "start", 200 for "continue")."""
        body = wire.FeccBody(action=action, movement=movement, timeout=duration_ms)
        return await self._ctx.post_bool(self._path("fecc"), body, host_only=self._host_only)

    async def statistics(self, body: wire.StatisticsBody) -> None:
        """``statistics``: media statistics for this call (direct media)."""
        await self._ctx.post(self._path("statistics"), body, host_only=self._host_only)
