"""What joining produced, and the API objects a session hands out from it.

:class:`SessionAccess` is a part of :class:`~pexbot.session.Session`, owned by it and handed
only the session's :class:`~pexbot.signalling.http.ApiTransport`. It owns what ``open``
brings back from the node: the ``request_token`` result, the
:class:`~pexbot.signalling.token.TokenKeeper` that keeps that token alive, and the
:class:`~pexbot.signalling.api.ApiContext` that every API object it hands out is built on.
The session itself does the joining and runs the keeper in its task group; this part only
holds the outcome, so that "who we are" and "how to ask the node" have one owner.

The API objects (``conference``, ``me``, ``participant(uuid)``, ``breakout(uuid)``) read the
token that is current at each request, not the one current when they were built, so they stay
valid across refreshes. Until :meth:`SessionAccess.open` the accessors that need a token raise
``SessionEnded``; ``participant_uuid`` is ``None`` then, and ``node`` needs no token at all.
"""

from __future__ import annotations

from typing import TypeVar

from pexbot import wire
from pexbot.errors import SessionEnded
from pexbot.signalling.api import ApiContext, BreakoutApi, ConferenceApi, NodeApi, ParticipantApi
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.token import TokenKeeper

T = TypeVar("T")


class SessionAccess:
    """Who we are, the token and the room functions of a session; see the module docstring."""

    def __init__(self, transport: ApiTransport) -> None:
        self.transport = transport
        self._info: wire.RequestTokenResult | None = None
        self._keeper: TokenKeeper | None = None
        self._ctx: ApiContext | None = None

    def __repr__(self) -> str:
        who = self._info.participant_uuid if self._info else "not joined"
        return f"SessionAccess({self.transport.origin!r}, {who})"

    def open(self, info: wire.RequestTokenResult, keeper: TokenKeeper) -> None:
        """Hold what joining produced: the ``request_token`` result and its token's keeper."""
        if self._info is not None:
            # A second token would orphan the first one's keeper, which nobody would release.
            raise SessionEnded("this session already holds a token")
        self._info, self._keeper = info, keeper
        self._ctx = ApiContext(
            self.transport, lambda: keeper.token, me=lambda: self.participant_uuid
        )

    @property
    def opened(self) -> bool:
        """Whether a token was issued (it may have been released or lost since)."""
        return self._info is not None

    async def release(self, reason: str) -> None:
        """``release_token`` with ``reason`` if a token was issued (idempotent, never raises)."""
        if self._keeper is not None:
            await self._keeper.release(reason)

    @property
    def info(self) -> wire.RequestTokenResult:
        """The ``request_token`` result (its repr leaves the token out)."""
        return _opened(self._info)

    @property
    def participant_uuid(self) -> str | None:
        return self._info.participant_uuid if self._info else None

    @property
    def role(self) -> str | None:
        """``"HOST"`` or ``"GUEST"``: the transport's, which the roster and refreshes update."""
        return self.transport.role

    @property
    def token(self) -> str:
        return self.token_keeper.token

    @property
    def token_keeper(self) -> TokenKeeper:
        return _opened(self._keeper)

    @property
    def api(self) -> ApiContext:
        return _opened(self._ctx)

    @property
    def conference(self) -> ConferenceApi:
        return ConferenceApi(self.api)

    def participant(self, uuid: str) -> ParticipantApi:
        return ParticipantApi(self.api, uuid)

    @property
    def me(self) -> ParticipantApi:
        return ParticipantApi(self.api, self.info.participant_uuid)

    def breakout(self, breakout_uuid: str) -> BreakoutApi:
        return BreakoutApi(self.api, breakout_uuid)

    @property
    def node(self) -> NodeApi:
        return NodeApi(self.transport)


def _opened(value: T | None) -> T:
    if value is None:
        raise SessionEnded("the session is not open")
    return value
