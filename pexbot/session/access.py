"""What an open session offers: who we are, the token, the room functions and the events.

Split from :mod:`pexbot.session` so that the session's lifetime (join, tasks, close) reads on
its own: everything here is a view on what joining produced (the ``request_token`` result, the
:class:`~pexbot.signalling.token.TokenKeeper`, the
:class:`~pexbot.signalling.api.ApiContext`) and holds no state of its own.
:class:`SessionAccess` is a base class of :class:`~pexbot.session.Session`; the API objects it hands out read the current token at each request, so they stay valid across
refreshes. Until ``open`` has a token, the accessors that need one raise ``SessionEnded``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from pexbot import wire
from pexbot.errors import SessionEnded
from pexbot.events import EventName
from pexbot.events.dispatch import Callback, EventDispatcher, EventIterator, Subscription
from pexbot.signalling.api import ApiContext, BreakoutApi, ConferenceApi, NodeApi, ParticipantApi
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.token import TokenKeeper

T = TypeVar("T")


class SessionAccess:
    """Accessors and room functions of a session; see the module docstring."""

    # Set by Session: at construction (transport, dispatcher) and by ``open`` (the rest).
    transport: ApiTransport
    dispatcher: EventDispatcher
    _info: wire.RequestTokenResult | None
    _keeper: TokenKeeper | None
    _ctx: ApiContext | None

    @property
    def info(self) -> wire.RequestTokenResult:
        """The ``request_token`` result (its repr leaves the token out)."""
        return _opened(self._info)

    @property
    def participant_uuid(self) -> str | None:
        return self._info.participant_uuid if self._info else None

    @property
    def role(self) -> str | None:
        """``"HOST"`` or ``"GUEST"``, kept current from our own roster entry."""
        return self.transport.role

    @property
    def token(self) -> str:
        """The current token (for code that talks to the node itself). Keep it secret."""
        return self.token_keeper.token

    @property
    def token_keeper(self) -> TokenKeeper:
        return _opened(self._keeper)

    @property
    def api(self) -> ApiContext:
        """Transport + current token: build any API object on it (``ConferenceApi(s.api)``)."""
        return _opened(self._ctx)

    @property
    def conference(self) -> ConferenceApi:
        """Conference control functions of the main room."""
        return ConferenceApi(self.api)

    def participant(self, uuid: str) -> ParticipantApi:
        return ParticipantApi(self.api, uuid)

    @property
    def me(self) -> ParticipantApi:
        """Participant functions on ourselves."""
        return ParticipantApi(self.api, self.info.participant_uuid)

    def breakout(self, breakout_uuid: str) -> BreakoutApi:
        return BreakoutApi(self.api, breakout_uuid)

    @property
    def node(self) -> NodeApi:
        """Node-level requests (``/api/client/v2/status``)."""
        return NodeApi(self.transport)

    def events(
        self, names: Iterable[EventName | str] | None = None, *, maxsize: int = 1000
    ) -> EventIterator:
        """Events from now on (bounded, drop-oldest); ends when the session ends."""
        return self.dispatcher.stream(names=names, maxsize=maxsize)

    def on(
        self, names: EventName | str | Iterable[EventName | str] | None, callback: Callback
    ) -> Subscription:
        """Call ``callback`` (sync or async) for events named ``names`` (None: all)."""
        if isinstance(names, str):
            names = [names]
        return self.dispatcher.subscribe(callback, names=names)


def _opened(value: T | None) -> T:
    if value is None:
        raise SessionEnded("the session is not open")
    return value
