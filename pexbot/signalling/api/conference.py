"""Conference control functions of the main room (``conferences/<alias>/<request>``).

``ConferenceApi`` is a :class:`~.room.RoomApi` (the functions every room offers) plus what only
exists on the main room: creating and emptying breakouts, leaving one, the presentation JPEGs.
"""

from __future__ import annotations

from pexbot import wire

from .base import ApiContext, as_bool, parse
from .breakout import BreakoutApi
from .room import MessageType, RoomApi

__all__ = ["ConferenceApi", "MessageType", "RoomApi"]


class ConferenceApi(RoomApi):
    """The main room: every ``RoomApi`` function plus breakout management and presentation."""

    def __init__(self, ctx: ApiContext) -> None:
        super().__init__(ctx, "")

    def breakout(self, breakout_uuid: str) -> BreakoutApi:
        """Controls of one breakout room."""
        return BreakoutApi(self._ctx, breakout_uuid)

    async def create_breakout(self, body: wire.BreakoutsBody) -> str:
        """``breakouts``: create a breakout room; returns its UUID (host only)."""
        result = await self._ctx.post("breakouts", body, host_only=True)
        return parse(wire.BreakoutCreated, result, "breakouts").breakout_uuid

    async def message_breakouts(self, payload: str, *, type: MessageType = "text/plain") -> bool:
        """``breakouts/message``: chat to every breakout room (host only)."""
        body = wire.MessageBody(type=type, payload=payload)
        return await self._ctx.post_bool("breakouts/message", body, host_only=True)

    async def close_breakouts(self) -> bool:
        """``breakouts/disconnect``: close every breakout room (host only)."""
        return as_bool(await self._ctx.post("breakouts/disconnect", host_only=True))

    async def empty_breakouts(self) -> bool:
        """``breakouts/empty``: everyone back to the main room; rooms stay open (host only)."""
        return await self._ctx.post_bool("breakouts/empty", host_only=True)

    async def leave_breakout(self) -> bool:
        """``leavebreakout``: go back to the main room, if guests may leave."""
        return await self._ctx.post_bool("leavebreakout")

    async def presentation_frame(self, event_id: str, *, high: bool = False) -> bytes:
        """``presentation.jpeg`` (or ``presentation_high.jpeg``) for a ``presentation_frame``
        event's id."""
        name = "presentation_high.jpeg" if high else "presentation.jpeg"
        return await self._ctx.get_bytes(name, params={"id": event_id})
