"""The long-lived media of a call, which outlives every peer connection the call goes through.

- Outgoing: one :mod:`pexbot.rtc.tracks` wrapper per m-line (audio, main video, presentation); the
  application's sources are swapped into them and never stopped by the call.
- Incoming: one :class:`~pexbot.rtc.incoming.IncomingTrack` per role and kind, handed to the
  application's ``on_track`` once, the first time such a remote track arrives; each later
  connection's remote track becomes its new source (sinks see one continuous stream). Without
  ``on_track`` the call reads and discards them itself: aiortc buffers decoded frames without
  bound until they are read.
- Counters: one :class:`~pexbot.rtc.rtp_counter.RtpReceiveCounter` per m-line, for statistics and
  for noticing that media stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Literal

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from pexbot.rtc.incoming import IncomingTrack
from pexbot.rtc.peer import STREAM_OF, Outgoing
from pexbot.rtc.raw_stats import RawStream, StreamName
from pexbot.rtc.rtp_counter import RtpReceiveCounter
from pexbot.rtc.sdp import MediaRole
from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack

log = logging.getLogger(__name__)

TrackRole = Literal["main", "presentation"]
OnTrack = Callable[[TrackRole, MediaStreamTrack], None]


class CallMedia:
    """Tracks and counters of one call; see the module docstring."""

    def __init__(
        self,
        roles: list[MediaRole],
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        on_track: OnTrack | None = None,
        filler_fps: float = 15.0,
    ) -> None:
        self.roles = roles
        self.audio = OutgoingAudioTrack(audio)
        self.video = OutgoingVideoTrack(video, fps=filler_fps)
        self.slides = OutgoingVideoTrack(None, fps=5.0)
        self.outgoing: dict[MediaRole, Outgoing] = {
            "audio": self.audio,
            "video": self.video,
            "slides": self.slides,
        }
        self.counters: dict[MediaRole, RtpReceiveCounter] = {
            role: RtpReceiveCounter() for role in ("audio", "video", "slides")
        }
        self.incoming: dict[tuple[TrackRole, str], IncomingTrack] = {}
        self._on_track = on_track
        self._drains: set[asyncio.Task[None]] = set()
        self.closed = False

    def remote_track(self, role: MediaRole | None, track: MediaStreamTrack) -> None:
        """A remote track of the current peer connection arrived on ``role``'s m-line."""
        if self.closed:
            return
        if role is None:
            log.debug("remote %s track on an m-line we did not offer: discarded", track.kind)
            self._drain(track)
            return
        track_role: TrackRole = "presentation" if role == "slides" else "main"
        key = (track_role, track.kind)
        incoming = self.incoming.get(key)
        if incoming is None:
            incoming = self.incoming[key] = IncomingTrack(track.kind, track_role)
            incoming.set_source(track)
            log.debug("remote %s track on the %s line", track.kind, role)
            if self._on_track is None:
                self._drain(incoming)
                return
            try:
                self._on_track(track_role, incoming)
            except Exception:
                # The application's bug stays its own: the call goes on, and the track is read
                # and discarded so aiortc does not buffer it forever.
                log.exception(
                    "on_track raised for the %s %s track: discarded", track_role, track.kind
                )
                self._drain(incoming)
        else:
            incoming.set_source(track)

    def packets_in(self) -> int:
        """RTP packets received on every m-line so far (all connections)."""
        return sum(c.packets for c in self.counters.values())

    def raw(self, role: MediaRole, tx: RawStream) -> RawStream:
        """``tx`` (the sender's figures) completed with what arrived and what was sent."""
        counter = self.counters[role]
        kind = "audio" if role == "audio" else "video"
        track_role: TrackRole = "presentation" if role == "slides" else "main"
        incoming = self.incoming.get((track_role, kind))
        outgoing = self.outgoing[role]
        sending = tx.tx_codec is not None
        return RawStream(
            rx_packets=counter.packets,
            rx_bytes=counter.bytes,
            rx_lost=counter.lost,
            rx_jitter_ms=counter.jitter_ms,
            rx_codec=counter.codec,
            rx_frames=incoming.frames if incoming is not None else 0,
            rx_size=incoming.size if incoming is not None else None,
            tx_generation=tx.tx_generation,
            tx_packets=tx.tx_packets,
            tx_bytes=tx.tx_bytes,
            tx_codec=tx.tx_codec,
            tx_frames=outgoing.frames,
            tx_size=outgoing.size if isinstance(outgoing, OutgoingVideoTrack) and sending else None,
            tx_remote_lost=tx.tx_remote_lost,
            tx_remote_jitter_ms=tx.tx_remote_jitter_ms,
        )

    def stream_of(self, role: MediaRole) -> StreamName:
        return STREAM_OF[role]

    def _drain(self, track: MediaStreamTrack) -> None:
        task = asyncio.get_running_loop().create_task(_drain(track))
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def close(self) -> None:
        """End the incoming tracks (their sinks see the end) and the outgoing wrappers."""
        if self.closed:
            return
        self.closed = True
        for incoming in self.incoming.values():
            incoming.stop()
        for outgoing in self.outgoing.values():
            outgoing.stop()
        for task in list(self._drains):
            task.cancel()
            await asyncio.wait({task})  # (suppressing CancelledError would eat ours)


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
