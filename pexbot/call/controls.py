"""What the application does with a live media call: mute, swap sources, DTMF, chat over the
data channel, statistics."""

from __future__ import annotations

import logging
import time

from aiortc.mediastreams import MediaStreamTrack

from pexbot.errors import CallError
from pexbot.rtc import aiortc_compat
from pexbot.rtc.datachannel import ChatMessage

from .base import CallBase
from .stats import CallStats

log = logging.getLogger("pexbot.call")  # one logger for every part of a call


class CallControls(CallBase):
    """The application's controls; part of :class:`~pexbot.call.MediaCall`."""

    def set_audio_muted(self, muted: bool) -> None:
        """Local mute: silence is sent instead of the source (REST mute is the session's)."""
        self.audio.muted = muted

    def set_video_muted(self, muted: bool) -> None:
        """Local video mute: black frames are sent instead of the source."""
        self.video.muted = muted

    def set_audio_source(self, track: MediaStreamTrack | None) -> None:
        self.audio.set_source(track)

    def set_video_source(self, track: MediaStreamTrack | None) -> None:
        self.video.set_source(track)

    async def send_dtmf(self, digits: str) -> None:
        """DTMF over REST (``calls/<id>/dtmf``), as Pexip's client does; never RTP events."""
        if self.call_uuid is None:
            raise CallError("cannot send DTMF before the call is answered")
        await self._signalling.call_dtmf(self.call_uuid, digits)

    def send_message(self, payload: str, *, type: str = "text/plain") -> bool:
        """Chat over the data channel (direct media): True if sent now, False if queued
        until the channel opens. CallError when the call has no data channel."""
        if self.channel is None:
            raise CallError("this call has no data channel (request_token gave no id)")
        message = ChatMessage(
            payload,
            origin=self.options.display_name,
            uuid=self.options.participant_uuid,
            type=type,
        )
        return self.channel.send_chat(message)

    def stats(self) -> CallStats:
        """The latest statistics (sampled every second while the call is up)."""
        return self.tracker.latest

    async def sample_stats(self) -> CallStats:
        """Sample statistics now."""
        return await self._supervisor.sample(time.monotonic())

    def set_stats_interval(self, seconds: float | None) -> None:
        """A new ``client_stats_update_interval`` (seconds; None stops posting)."""
        self._supervisor.set_interval(seconds)

    @property
    def statistics_posted(self) -> int:
        return self._supervisor.posted

    def selected_pair(self) -> tuple[aiortc_compat.Address, aiortc_compat.Address] | None:
        """(local, remote) address of the ICE pair in use."""
        pc = self._last_pc
        return aiortc_compat.selected_pair(pc) if pc is not None else None
