"""Receiving someone else's presentation: on the call's slides line, or as JPEGs.

:class:`PresentationReceiving` is the receiving half of
:class:`~pexbot.presentation.PresentationController` (which decides *when*: on
``presentation_start`` / ``presentation_stop``, a new call, a new sink). It decides *how*:

- ``"video"``: the call has a slides line (and JPEGs are not forced): it goes ``recvonly``
  through ``update`` and the call hands the track to its ``on_track`` as ``"presentation"``;
  following ends with the line back to ``inactive`` (unless we are presenting on it). In direct
  media the presenter's own offer (``sendonly``, relayed as ``update_sdp``) is answered
  ``recvonly`` by the call itself, so we make no offer of ours: it would only cross the
  presenter's (the call resolves crossings, but each one costs a round trip);
- ``"jpeg"``: no slides line (or ``jpeg="always"``) and somewhere to deliver: the JPEG fallback
  (:mod:`pexbot.presentation.jpeg`) is switched on, and its one long-lived track is handed,
  once per sink, to the call's ``on_track`` or to the application's sink as ``"presentation"``;
- None: nothing to receive on and nowhere to deliver JPEGs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Literal, Protocol

from aiortc.mediastreams import MediaStreamTrack

from pexbot.errors import SessionEnded
from pexbot.rtc.sdp import Direction, MediaRole

from .jpeg import FetchJpeg, JpegPresentationReceiver

ReceiveMode = Literal["video", "jpeg"]
#: "auto": JPEGs only without a slides line; "always": JPEGs even with one; "never": no JPEGs
JpegPolicy = Literal["auto", "always", "never"]
OnTrack = Callable[[str, MediaStreamTrack], None]
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


class CallKind(Protocol):
    """Whether a call is direct media (its media goes peer to peer, not through the node)."""

    @property
    def direct_media(self) -> bool: ...


class PresentingCall(Protocol):
    """What the presentation uses of a :class:`~pexbot.call.MediaCall`."""

    @property
    def options(self) -> CallKind: ...

    roles: list[MediaRole]
    presenting: bool
    slides_direction: Direction
    ended: asyncio.Event

    async def start_presenting(self, track: MediaStreamTrack) -> None: ...
    async def stop_presenting(self) -> None: ...
    async def yield_presentation(self) -> None: ...
    async def receive_presentation(self) -> None: ...
    async def stop_receiving_presentation(self) -> None: ...


def live(call: PresentingCall | None) -> PresentingCall | None:
    return call if call is not None and not call.ended.is_set() else None


class PresentationReceiving:
    """How we receive a presentation; see the module docstring. Not locked: its owner
    serialises calls to :meth:`follow` and :meth:`unfollow`."""

    def __init__(
        self,
        *,
        spawn: Spawn,
        fetch_jpeg: FetchJpeg,
        policy: JpegPolicy = "auto",
        high_jpeg: bool = False,
        jpeg_interval: float = 0.5,
    ) -> None:
        self._spawn = spawn
        self.policy: JpegPolicy = policy
        self.jpeg = JpegPresentationReceiver(fetch_jpeg, high=high_jpeg, min_interval=jpeg_interval)
        self._jpeg_task: asyncio.Task[None] | None = None
        #: the application's sink for JPEGs when there is no call
        self.sink: OnTrack | None = None
        self._given_to: OnTrack | None = None
        #: how we receive now (None: we do not)
        self.mode: ReceiveMode | None = None

    def mode_for(self, call: PresentingCall | None, on_track: OnTrack | None) -> ReceiveMode | None:
        call = live(call)
        if call is not None and "slides" in call.roles and self.policy != "always":
            return "video"
        if self.policy == "never" or self._sink(call, on_track) is None:
            return None
        return "jpeg"

    def _sink(self, call: PresentingCall | None, on_track: OnTrack | None) -> OnTrack | None:
        return on_track if live(call) is not None and on_track is not None else self.sink

    async def follow(self, call: PresentingCall | None, on_track: OnTrack | None) -> None:
        """Someone presents: receive it the best way there is now (REST for ``"video"``)."""
        mode = self.mode_for(call, on_track)
        if mode != self.mode:
            await self.unfollow(call)
        if mode == "video":
            call = live(call)
            assert call is not None
            if call.slides_direction != "recvonly" and not call.options.direct_media:
                await call.receive_presentation()
        elif mode == "jpeg":
            sink = self._sink(call, on_track)
            if sink is not None and sink is not self._given_to:
                self._given_to = sink
                sink("presentation", self.jpeg.track)
            if self._jpeg_task is None or self._jpeg_task.done():
                with contextlib.suppress(SessionEnded):
                    self._jpeg_task = self._spawn(self.jpeg.run())
            self.jpeg.set_active(True)
        self.mode = mode

    async def unfollow(self, call: PresentingCall | None) -> None:
        """Nobody else presents any more (or the way to receive changes)."""
        mode, self.mode = self.mode, None
        if mode == "jpeg":
            self.jpeg.set_active(False)
        elif mode == "video":
            call = live(call)
            if (
                call is not None
                and not call.presenting
                and call.slides_direction == "recvonly"
                and not call.options.direct_media
            ):
                await call.stop_receiving_presentation()

    def presenting(self) -> None:
        """We took the floor: the slides line now sends, and JPEGs are not wanted."""
        if self.mode == "jpeg":
            self.jpeg.set_active(False)
        self.mode = None

    def call_gone(self) -> None:
        if self.mode == "video":
            self.mode = None

    async def close(self) -> None:
        """End the JPEG track and its fetching task."""
        task, self._jpeg_task = self._jpeg_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        self.jpeg.close()
