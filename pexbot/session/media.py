"""The session's media call: starting it, chat over it, statistics from it.

:class:`SessionMedia` is a part of :class:`~pexbot.session.Session`, kept apart because the
media call has a life of its own inside the session's. It is handed what it works with and
owns none of it: the session's :class:`~pexbot.session.access.SessionAccess` (the
``request_token`` options, our participant's API, the token keeper), the ``ConferenceState``
and ``EventDispatcher`` that chat is published to, the :class:`~pexbot.call.slot.CallSlot` that
holds the call, the :class:`~pexbot.presentation.PresentationController` that presents on it,
and a callable that tells whether the session is closing, and why.

:meth:`SessionMedia.call` builds the :class:`~pexbot.call.MediaCall`, hands it to the slot
(which routes the events about it and ends it in the official client's order), starts it, then
hands it to the controller. The call's callbacks come back here: chat that arrives is applied
to the state and published (:meth:`~SessionMedia.chat_arrived`), statistics are posted for our
participant (:meth:`~SessionMedia.post_statistics`), and a token refresh that changes
``client_stats_update_interval`` reaches the live call (:meth:`~SessionMedia.token_refreshed`,
which the session gives its token keeper). The slot and the controller are built, run and
closed by the session, which owns their tasks.

Direct media (``Session(..., direct_media=True)`` and a conference the node makes direct): the
call goes peer to peer, brokered by the node (``new_offer`` / ``update_sdp`` /
``peer_disconnect`` are routed to it by the slot; see :mod:`pexbot.call`), ``splash_screen``
events tell what to show while waiting (``state.splash_screen``), chat travels on the call's
data channel rather than the ``message`` request, as in Pexip's client
(:meth:`SessionMedia.send_message`), and the call posts its statistics every
``client_stats_update_interval``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiortc.mediastreams import MediaStreamTrack

from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.call.slot import CallSlot
from pexbot.call.stats import stats_interval_seconds
from pexbot.errors import SessionEnded
from pexbot.events import MessageReceived
from pexbot.events.dispatch import EventDispatcher
from pexbot.events.state import ConferenceState
from pexbot.presentation.controller import PresentationController
from pexbot.rtc.datachannel import ChatMessage
from pexbot.signalling.api.call_signalling import SessionSignalling
from pexbot.signalling.api.conference import MessageType

from .access import SessionAccess

#: ``None`` while the session is open; once it is closing, why it is ending (maybe empty)
Closing = Callable[[], str | None]
OnTrack = Callable[[str, MediaStreamTrack], None]


class SessionMedia:
    """The media-call functions of a session; see the module docstring."""

    def __init__(
        self,
        access: SessionAccess,
        state: ConferenceState,
        dispatcher: EventDispatcher,
        *,
        calls: CallSlot,
        presentation: PresentationController,
        closing: Closing,
        new_call: Callable[..., MediaCall] = MediaCall,
    ) -> None:
        self._access = access
        self._state = state
        self._dispatcher = dispatcher
        self._calls = calls
        self._presentation = presentation
        self._closing = closing
        # Tests hand a stand-in here to watch what the call is given without a peer connection.
        self._new_call = new_call

    def __repr__(self) -> str:
        return f"SessionMedia({self._calls!r})"

    def call_signalling(self) -> SessionSignalling:
        """``pexbot.call.CallSignalling`` for a media call of ours."""
        access = self._access
        return SessionSignalling(access.me, after_update=access.token_keeper.request_refresh)

    async def call(
        self,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        on_track: OnTrack | None = None,
        options: CallOptions | None = None,
        **option_overrides: Any,
    ) -> MediaCall:
        """Build, attach and start a call; see :meth:`pexbot.Session.call`."""
        if options is None:
            options = CallOptions.from_token(self._access.info, **option_overrides)
        elif option_overrides:
            options = dataclasses.replace(options, **option_overrides)
        reason = self._closing()
        if reason is not None:
            raise SessionEnded(reason or "the session is closing")
        call = self._new_call(
            self.call_signalling(),
            options,
            audio=audio,
            video=video,
            on_track=on_track,
            on_message=self.chat_arrived,
            post_statistics=self.post_statistics,
        )
        self._calls.attach(call)
        try:
            await call.start()
        except BaseException as exc:
            self._calls.detach(call)
            reason = self._closing()
            # The session closing under a starting call is why it failed: say so, not how.
            if reason is not None and isinstance(exc, Exception):
                raise SessionEnded(
                    reason or "the session ended while the call was starting"
                ) from exc
            raise
        self._presentation.attach_call(call, on_track)
        return call

    @property
    def media_call(self) -> MediaCall | None:
        """The live media call started with :meth:`call`, if any."""
        return self._calls.call

    @property
    def direct_media(self) -> bool:
        """Whether the node made this a direct-media (peer-to-peer) conference."""
        return bool(self._access.info.direct_media)

    async def send_message(self, payload: str, *, type: MessageType = "text/plain") -> bool:
        """Chat to the conference: over the live direct-media call's data channel if there is
        one (False while it is not open yet: the message is queued), else ``message``."""
        call = self.media_call
        if call is not None and call.options.direct_media and call.channel is not None:
            return call.send_message(payload, type=type)
        return await self._access.conference.message(payload, type=type)

    def chat_arrived(self, message: ChatMessage) -> None:
        """A call's ``on_message``: chat from its data channel, published like REST chat."""
        event = MessageReceived(
            payload=message.payload, origin=message.origin, uuid=message.uuid, type=message.type
        )
        self._state.apply(event)
        self._dispatcher.publish(event)

    async def post_statistics(self, call_uuid: str, body: wire.StatisticsBody) -> None:
        """A call's ``post_statistics``: ``statistics`` for that call of our participant."""
        await self._access.me.call(call_uuid).statistics(body)

    def token_refreshed(self, result: wire.RefreshTokenResult) -> None:
        """The token keeper's ``on_refreshed``: the node may change the statistics interval."""
        call = self.media_call
        if call is not None and result.client_stats_update_interval is not None:
            call.set_stats_interval(stats_interval_seconds(result.client_stats_update_interval))
