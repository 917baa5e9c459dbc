"""Breakout room functions (``breakouts/<breakout_uuid>/<request>``).

A breakout room is controlled like a room of its own: every ``RoomApi`` function (mute guests,
transform the layout, chat, lock, participant functions...) is sent under the breakout's path.
Creating, emptying and leaving breakouts live on ``ConferenceApi`` (they are main-room paths).
"""

from __future__ import annotations

from .base import ApiContext, parse_as, seg
from .room import RoomApi


class BreakoutApi(RoomApi):
    """Host controls of breakout room ``uuid``."""

    def __init__(self, ctx: ApiContext, uuid: str) -> None:
        super().__init__(ctx, f"breakouts/{seg(uuid)}/")
        self.uuid = uuid

    def __repr__(self) -> str:
        return f"BreakoutApi({self.uuid!r})"

    async def close(self) -> bool:
        """``breakouts/<uuid>/disconnect``: close the room; its participants go back to the
        main room or are disconnected, per its ``end_action`` (host only)."""
        return await self.disconnect_all()

    async def request_guest_token(self) -> str:
        """``breakouts/<uuid>/request_guest_token``: a one-time token to join it as a guest."""
        path = self._path("request_guest_token")
        result = await self._ctx.post(path, host_only=True)
        token: str = parse_as(str, result, path)
        return token
