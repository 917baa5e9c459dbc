"""The session's side of a media call: ``pexbot.call.CallSignalling`` over the REST API."""

from __future__ import annotations

from collections.abc import Callable

from pexbot import wire

from .participant import ParticipantApi


class SessionSignalling:
    """Implements ``CallSignalling`` for our own participant (``me``).

    ``after_update`` runs after each successful ``update``: Pexip's client refreshes the token
    then, and so do we (the session passes its keeper's ``request_refresh``).
    """

    def __init__(self, me: ParticipantApi, *, after_update: Callable[[], None] | None = None):
        self._me = me
        self._after_update = after_update

    def __repr__(self) -> str:
        return f"SessionSignalling({self._me.uuid!r})"

    @property
    def participant_uuid(self) -> str:
        return self._me.uuid

    async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult:
        return await self._me.calls(body)

    async def new_candidate(self, call_uuid: str, body: wire.NewCandidateBody) -> None:
        await self._me.call(call_uuid).new_candidate(body)

    async def ack(self, call_uuid: str, body: wire.AckBody) -> None:
        await self._me.call(call_uuid).ack(body)

    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str | wire.UpdateResult:
        answer = await self._me.call(call_uuid).update(body)
        if self._after_update is not None:
            self._after_update()
        return answer

    async def disconnect_call(self, call_uuid: str) -> None:
        await self._me.call(call_uuid).disconnect()

    async def call_dtmf(self, call_uuid: str, digits: str) -> None:
        await self._me.call(call_uuid).dtmf(digits)

    async def take_floor(self) -> None:
        await self._me.take_floor()

    async def release_floor(self) -> None:
        await self._me.release_floor()
