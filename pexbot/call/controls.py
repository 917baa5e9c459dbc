"""What the application does with a live media call: mute, swap sources, DTMF, chat over the
data channel.

Mute and sources act on the call's long-lived outgoing tracks (:mod:`pexbot.call.media`), so
they hold across restarts and direct-media far ends; DTMF goes over REST as Pexip's client
sends it; chat goes over the ``pexChannel`` (direct media), queued until it opens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiortc.mediastreams import MediaStreamTrack

from pexbot.errors import CallError
from pexbot.rtc.datachannel import ChatMessage, PexChannel
from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack

from .options import CallOptions


class DtmfSignalling(Protocol):
    """The session's DTMF request (part of :class:`~pexbot.call.CallSignalling`)."""

    async def call_dtmf(self, call_uuid: str, digits: str) -> None: ...


class CallControls:
    """The application's controls of one call; see the module docstring."""

    def __init__(
        self,
        signalling: DtmfSignalling,
        options: CallOptions,
        *,
        audio: OutgoingAudioTrack,
        video: OutgoingVideoTrack,
        channel: PexChannel | None,
        call_uuid: Callable[[], str | None],
    ) -> None:
        self._signalling = signalling
        self._options = options  # who signs the chat we send
        self._audio = audio
        self._video = video
        self._channel = channel
        self._call_uuid = call_uuid  # the node's id of the call, once it answered

    def set_audio_muted(self, muted: bool) -> None:
        """Local mute: silence is sent instead of the source (REST mute is the session's)."""
        self._audio.muted = muted

    def set_video_muted(self, muted: bool) -> None:
        """Local video mute: black frames are sent instead of the source."""
        self._video.muted = muted

    def set_audio_source(self, track: MediaStreamTrack | None) -> None:
        """Send ``track`` from now on (None: silence); the previous source is not stopped."""
        self._audio.set_source(track)

    def set_video_source(self, track: MediaStreamTrack | None) -> None:
        """Send ``track`` from now on (None: black frames); the previous one is not stopped."""
        self._video.set_source(track)

    async def send_dtmf(self, digits: str) -> None:
        """DTMF over REST (``calls/<id>/dtmf``), as Pexip's client does; never RTP events."""
        call_uuid = self._call_uuid()
        if call_uuid is None:
            raise CallError("cannot send DTMF before the call is answered")
        await self._signalling.call_dtmf(call_uuid, digits)

    def send_message(self, payload: str, *, type: str = "text/plain") -> bool:
        """Chat over the data channel (direct media): True if sent now, False if queued
        until the channel opens. CallError when the call has no data channel."""
        if self._channel is None:
            raise CallError("this call has no data channel (request_token gave no id)")
        message = ChatMessage(
            payload,
            origin=self._options.display_name,
            uuid=self._options.participant_uuid,
            type=type,
        )
        return self._channel.send_chat(message)
