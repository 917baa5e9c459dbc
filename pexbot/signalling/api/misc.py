"""Node-level requests: ``/api/client/v2/status`` (no alias, no token)."""

from __future__ import annotations

from pexbot.errors import NodeUnavailable, UnexpectedResponse
from pexbot.signalling.http import ApiTransport


class NodeApi:
    """Requests about the Conferencing Node itself."""

    def __init__(self, transport: ApiTransport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"NodeApi({self._transport.origin!r})"

    async def status(self) -> str:
        """``/api/client/v2/status``: ``"OK"``; ``NodeUnavailable`` in maintenance mode."""
        raw = await self._transport.request("GET", "status", node_level=True)
        if not isinstance(raw.result, str):
            raise UnexpectedResponse("status", raw.status, "result is not a string")
        return raw.result

    async def available(self) -> bool:
        """True unless the node says it is in maintenance mode (or is otherwise unavailable)."""
        try:
            await self.status()
        except NodeUnavailable:
            return False
        return True
