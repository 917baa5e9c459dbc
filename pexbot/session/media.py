"""The session's media call: starting it, chat over it, statistics from it.

Split from :mod:`pexbot.session` because the media call has a life of its own inside the
session's: :class:`SessionMedia` (a base class of :class:`~pexbot.session.Session`) builds the
:class:`~pexbot.call.MediaCall` from the ``request_token`` options, hands it to the session's
:class:`~pexbot.call.slot.CallSlot` (which routes the events about it and ends it in the
official client's order), then to the :class:`~pexbot.presentation.PresentationController`,
and connects the call's callbacks back to the session: chat that arrives is published,
statistics are posted for our participant, a token refresh that changes
``client_stats_update_interval`` reaches the call. The slot and the controller are built and
closed by the session itself, which owns their tasks.

In direct media, chat travels on the call's data channel rather than the ``message`` request,
as in Pexip's client (:meth:`SessionMedia.send_message`).
"""

from __future__ import annotations

import asyncio
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
from pexbot.events.state import ConferenceState
from pexbot.presentation.controller import PresentationController
from pexbot.rtc.datachannel import ChatMessage
from pexbot.signalling.api.call_signalling import SessionSignalling
from pexbot.signalling.api.conference import MessageType

from .access import SessionAccess


class SessionMedia(SessionAccess):
    """Media-call functions of a session; see the module docstring."""

    # Set by Session.
    state: ConferenceState
    presentation: PresentationController
    end_reason: str | None
    _calls: CallSlot
    _close_task: asyncio.Task[None] | None

    def call_signalling(self) -> SessionSignalling:
        """``pexbot.call.CallSignalling`` for a media call of ours."""
        return SessionSignalling(self.me, after_update=self.token_keeper.request_refresh)

    async def call(
        self,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        on_track: Callable[[str, MediaStreamTrack], None] | None = None,
        options: CallOptions | None = None,
        **option_overrides: Any,
    ) -> MediaCall:
        """Start a media call and return it once media can flow (in direct media, possibly
        earlier, in state ``"waiting"``: the far end is not there yet; ``call.wait_connected()``).

        Options come from ``request_token`` (ICE servers, relay-only, call type) unless
        ``options`` is given; ``option_overrides`` (``media_type="audio"``,
        ``video_codec="vp8"``...) replace single fields. The session owns the call: events
        about it are routed to it, ``call_disconnected`` ends it (``call.ended`` /
        ``call.end_reason``; the event is published as well), and closing the session
        disconnects it before the token is released. One call at a time: CallError while one
        is live. Set-up failures raise the call's errors (NegotiationError, IceTimeout...), or
        SessionEnded when the session ended meanwhile.
        """
        if options is None:
            options = CallOptions.from_token(self.info, **option_overrides)
        elif option_overrides:
            options = dataclasses.replace(options, **option_overrides)
        if self._close_task is not None:
            raise SessionEnded(self.end_reason or "the session is closing")
        call = MediaCall(
            self.call_signalling(),
            options,
            audio=audio,
            video=video,
            on_track=on_track,
            on_message=self._chat_arrived,
            post_statistics=self._post_statistics,
        )
        self._calls.attach(call)
        try:
            await call.start()
        except BaseException as exc:
            self._calls.detach(call)
            if self._close_task is not None and isinstance(exc, Exception):
                raise SessionEnded(
                    self.end_reason or "the session ended while the call was starting"
                ) from exc
            raise
        self.presentation.attach_call(call, on_track)
        return call

    @property
    def media_call(self) -> MediaCall | None:
        """The live media call started with :meth:`call`, if any."""
        return self._calls.call

    @property
    def direct_media(self) -> bool:
        """Whether the node made this a direct-media (peer-to-peer) conference."""
        return bool(self.info.direct_media)

    async def send_message(self, payload: str, *, type: MessageType = "text/plain") -> bool:
        """Chat to the conference. In direct media, over the call's data channel as Pexip's
        client does (queued until it opens; returns False then); otherwise ``message``."""
        call = self.media_call
        if call is not None and call.options.direct_media and call.channel is not None:
            return call.send_message(payload, type=type)
        return await self.conference.message(payload, type=type)

    def _chat_arrived(self, message: ChatMessage) -> None:
        event = MessageReceived(
            payload=message.payload, origin=message.origin, uuid=message.uuid, type=message.type
        )
        self.state.apply(event)
        self.dispatcher.publish(event)

    async def _post_statistics(self, call_uuid: str, body: wire.StatisticsBody) -> None:
        await self.me.call(call_uuid).statistics(body)

    def _token_refreshed(self, result: wire.RefreshTokenResult) -> None:
        call = self.media_call
        if call is not None and result.client_stats_update_interval is not None:
            call.set_stats_interval(stats_interval_seconds(result.client_stats_update_interval))
