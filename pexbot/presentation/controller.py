"""A session's presentation: sending it, being taken over, and receiving someone else's.

::

    async with Session(node, alias) as session:
        await session.call(on_track=recorder_on_track)
        await session.presentation.present_files(["deck/", "demo.mp4"], loop=True)
        stopped = await session.presentation.wait_stopped()  # released, taken over, ...

Sending (official-client-flow.md §11, §18): ``take_floor`` (a refusal raises
:class:`~pexbot.errors.FloorDenied` and nothing else happens), then the call's slides m-line
goes ``sendonly`` through ``update`` → ``ack {}``. :meth:`PresentationController.stop` is
``release_floor`` → ``update`` (``inactive``) → ``ack {}``. The sources are whatever
:mod:`media.presenter` plays (files, images, slide folders, application tracks) or any video
track.

Taken over: a ``presentation_start`` naming someone else while we send means the node gave the
floor away. We stop sending at once, give the floor back as Pexip's client does
(``release_floor``) and turn the slides line ``recvonly`` in one ``update`` (in direct media the
new presenter's offer turns it), close the source if we own it, tell the application
(:class:`SendingStopped` with ``reason "taken_over"``, through
:meth:`~PresentationController.wait_stopped` and :meth:`~PresentationController.on_stopped`)
and receive the new presentation. Our own
``presentation_start`` (``presenter_uuid`` is us) never stops us; an all-empty one is a
revocation and is ignored. Nor does a stale one: when two take the floor at once, the node's
``presentation_start`` for the first can reach the second after the node gave the floor to the
second. The roster settles it: the node sends ``participant_update`` (``is_presenting``) with
every floor change, before the ``take_floor`` answer, so when the roster already says that
presenter stopped and we present, the event is older than our floor and is ignored.

Receiving: on ``presentation_start`` a call with a slides line switches it to ``recvonly``
(``update``); the track reaches the call's ``on_track`` as role ``"presentation"``.
``presentation_stop`` sets it back to ``inactive`` unless we are sending. Without a slides line
(audio, video-only, ``present="main"``) or without a call, the JPEG fallback
(:mod:`pexbot.presentation.jpeg`) fetches each announced picture and feeds one long-lived track,
handed once to the call's ``on_track`` (or to the sink given to
:meth:`~PresentationController.receive_jpeg`) as role ``"presentation"``.

Events are handled in arrival order by one worker task spawned on the session; application
calls and the worker take one lock, so a renegotiation never overlaps another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiortc.mediastreams import MediaStreamTrack

from pexbot import wire
from pexbot.errors import CallError, PexbotError
from pexbot.events import Event, PresentationFrame, PresentationStarted, PresentationStopped

from .jpeg import FetchJpeg, JpegPresentationReceiver, JpegPresentationTrack
from .outcomes import (
    Action,
    CallEnded,
    Reconsider,
    Sending,
    SendingStopped,
    SourceEnded,
    StopReason,
    is_revocation,
    release_source,
)
from .receiving import (
    JpegPolicy,
    OnTrack,
    PresentationReceiving,
    PresentingCall,
    ReceiveMode,
    Spawn,
    live,
)
from .serial_worker import SerialWorker

if TYPE_CHECKING:
    from media.content import ContentCaps
    from media.presenter import PresentationPlaylist

__all__ = [
    "JpegPolicy",
    "PresentationController",
    "PresentingCall",
    "ReceiveMode",
    "SendingStopped",
    "StopReason",
]

log = logging.getLogger(__name__)

#: presentation_start / stop events and internal changes waiting for the worker
INBOX_SIZE = 64


class PresentationController:
    """``session.presentation``; see the module docstring."""

    def __init__(
        self,
        *,
        me: Callable[[], str | None],
        spawn: Spawn,
        fetch_jpeg: FetchJpeg,
        release_floor: Callable[[], Coroutine[Any, Any, None]],
        jpeg: JpegPolicy = "auto",
        high_jpeg: bool = False,
        jpeg_interval: float = 0.5,
        roster: Callable[[], Mapping[str, wire.Participant]] | None = None,
    ) -> None:
        self._me = me
        self._roster = roster
        self._release_floor = release_floor
        self._receiving = PresentationReceiving(
            spawn=spawn,
            fetch_jpeg=fetch_jpeg,
            policy=jpeg,
            high_jpeg=high_jpeg,
            jpeg_interval=jpeg_interval,
        )
        self._call: PresentingCall | None = None
        self._call_on_track: OnTrack | None = None
        self._sending: Sending | None = None
        self._latest: Sending | None = None  # also while it is being stopped
        #: someone else's presentation in progress (None: nobody else presents)
        self.presenter: PresentationStarted | None = None
        #: why our last presentation stopped
        self.last_stopped: SendingStopped | None = None
        self._callbacks: list[Callable[[SendingStopped], None]] = []
        self._lock = asyncio.Lock()
        self._worker: SerialWorker[Action] = SerialWorker(
            "presentation", self._apply, spawn=spawn, lock=self._lock, size=INBOX_SIZE
        )
        self._closed = False

    @property
    def dropped_events(self) -> int:
        """Events that did not fit the worker's inbox."""
        return self._worker.dropped

    def __repr__(self) -> str:
        who = self.presenter.presenter_name if self.presenter else None
        return (
            f"PresentationController(sending={self.sending}, receiving={self.receiving}, "
            f"presenter={who!r})"
        )

    # -- state ----------------------------------------------------------------------------------

    @property
    def sending(self) -> bool:
        return self._sending is not None

    @property
    def source(self) -> MediaStreamTrack | None:
        """The track on our slides line while we present."""
        return self._sending.track if self._sending else None

    @property
    def receiving(self) -> ReceiveMode | None:
        """How we receive someone else's presentation now (None: we do not)."""
        return self._receiving.mode

    @property
    def jpeg_policy(self) -> JpegPolicy:
        """``"auto"`` (JPEGs only without a slides line), ``"always"`` or ``"never"``; a change
        applies from the next presentation event."""
        return self._receiving.policy

    @jpeg_policy.setter
    def jpeg_policy(self, policy: JpegPolicy) -> None:
        self._receiving.policy = policy

    @property
    def jpeg_receiver(self) -> JpegPresentationReceiver:
        return self._receiving.jpeg

    @property
    def jpeg_track(self) -> JpegPresentationTrack:
        """The JPEG fallback's track (one per session; idle between presentations)."""
        return self._receiving.jpeg.track

    # -- sending ----------------------------------------------------------------------------------

    async def start(
        self, source: MediaStreamTrack | PresentationPlaylist, *, close_source: bool = False
    ) -> None:
        """Present ``source`` (a video track, or a playlist: its track) on our call.

        Raises CallError without a live call with a slides line or while already presenting,
        FloorDenied when the node refuses the floor, or the call's errors if the update fails
        (the floor is then given back). ``close_source``: stop the track or close the playlist
        when the presentation stops, however it stops (also when starting fails).
        """
        from media.presenter import PresentationPlaylist

        playlist = source if isinstance(source, PresentationPlaylist) else None
        track = playlist.track if playlist is not None else source
        assert isinstance(track, MediaStreamTrack)
        try:
            async with self._lock:
                call = self._presenting_call()
                # on failure after take_floor the call gives the floor back itself
                await call.start_presenting(track)
                sending = Sending(track, playlist, close_source, asyncio.Event())
                self._sending = self._latest = sending
                # ours replaces whoever presented (the node tells them); the line is sendonly now
                self.presenter = None
                self._receiving.presenting()
        except BaseException:
            if close_source:
                await release_source(track, playlist)
            raise
        if playlist is not None:
            self._worker.post_when(playlist.ended, SourceEnded(sending))
        log.info("presenting %s", playlist.items[0].label if playlist else track)

    async def present_files(
        self,
        paths: Sequence[str | Path],
        *,
        loop: bool = False,
        seconds: float = 5.0,
        caps: ContentCaps | None = None,
        stamp_codes: bool = False,
    ) -> PresentationPlaylist:
        """Present files and folders (videos, images shown ``seconds`` each, slide folders) as
        one playlist, once or looping; it is closed when the presentation stops. A once-through
        playlist stops the presentation when it is over (``reason "source_ended"``)."""
        from media.presenter import PresentationPlaylist

        self._presenting_call()  # fail before reading any file
        playlist = await PresentationPlaylist.open(
            paths, seconds=seconds, loop=loop, caps=caps, stamp_codes=stamp_codes
        )
        await self.start(playlist, close_source=True)
        return playlist

    async def stop(self) -> None:
        """Stop presenting (``release_floor``, slides ``inactive``). Nothing if not presenting."""
        async with self._lock:
            await self._stop_sending("released", "stopped by the application")

    async def wait_stopped(self) -> SendingStopped:
        """Wait until the current (or last) presentation has stopped; why it did. CallError
        if nothing was presented yet."""
        sending = self._latest
        if sending is None:
            raise CallError("nothing has been presented in this session")
        await sending.done.wait()
        assert sending.notice is not None
        return sending.notice

    def on_stopped(self, callback: Callable[[SendingStopped], None]) -> Callable[[], None]:
        """Call ``callback`` (on the event loop) whenever our presentation stops; returns a
        function that unsubscribes."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    # -- receiving without a slides line ---------------------------------------------------------

    def receive_jpeg(self, on_track: OnTrack | None) -> None:
        """Where the JPEG fallback's track goes when there is no call (a call's own
        ``on_track`` is used otherwise); None: nowhere (no fallback without a call)."""
        self._receiving.sink = on_track
        self._worker.post(Reconsider())

    # -- fed by the session ----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Every session event, in arrival order, on the event loop."""
        if isinstance(event, PresentationFrame):
            self._receiving.jpeg.offer(event.event_id)
        elif isinstance(event, PresentationStarted | PresentationStopped):
            self._worker.post(event)

    def attach_call(self, call: PresentingCall, on_track: OnTrack | None) -> None:
        """The session's new media call (``on_track``: where its tracks go)."""
        self._call, self._call_on_track = call, on_track
        self._worker.post_when(call.ended, CallEnded(call))
        self._worker.post(Reconsider())

    async def close(self) -> None:
        """Stop every task and the JPEG track, close an owned source. No requests are made:
        leaving the conference ends the presentation at the node. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._worker.close()
        sending, self._sending = self._sending, None
        if sending is not None:
            await self._finish(sending, SendingStopped("closed", "the session ended"))
        await self._receiving.close()

    # -- applying events and changes, one at a time ---------------------------------------------

    async def _apply(self, action: Action) -> None:
        if isinstance(action, PresentationStarted):
            if is_revocation(action) or self._is_mine(action):
                return
            if self._sending is not None and self._older_than_our_floor(action):
                log.info(
                    "presentation_start of %s predates our floor: ignored", action.presenter_name
                )
                return
            self.presenter = action
            if self._sending is not None:
                who = action.presenter_name or action.presenter_uri or "another participant"
                await self._stop_sending("taken_over", f"{who} took the floor", taken_by=action)
            await self._receive()
        elif isinstance(action, PresentationStopped):
            if self._sending is not None:
                return  # we hold the floor: this is not about our presentation
            self.presenter = None
            await self._unreceive()
        elif isinstance(action, CallEnded):
            await self._call_ended(action.call)
        elif isinstance(action, SourceEnded):
            if self._sending is action.sending:
                await self._stop_sending("source_ended", "the presentation source is over")
        elif self.presenter is not None and self._sending is None:
            await self._receive()

    def _is_mine(self, event: PresentationStarted) -> bool:
        me = self._me()
        return event.presenter_uuid is not None and me is not None and event.presenter_uuid == me

    def _older_than_our_floor(self, event: PresentationStarted) -> bool:
        me = self._me()
        if self._roster is None or me is None or event.presenter_uuid is None:
            return False
        roster = self._roster()
        theirs, mine = roster.get(event.presenter_uuid), roster.get(me)
        return theirs is not None and not theirs.presenting and mine is not None and mine.presenting

    async def _stop_sending(
        self,
        reason: StopReason,
        detail: str,
        *,
        taken_by: PresentationStarted | None = None,
    ) -> None:
        sending, self._sending = self._sending, None
        if sending is None:
            return
        call = self._live_call()
        try:
            if call is not None and reason == "taken_over":
                await call.yield_presentation()  # release_floor, slides recvonly
            elif call is not None:
                await call.stop_presenting()  # release_floor, then slides inactive
            else:
                await self._release_floor()
        except PexbotError as exc:
            log.warning("stopping our presentation (%s) partly failed: %s", reason, exc)
        finally:
            await self._finish(sending, SendingStopped(reason, detail, taken_by))

    async def _finish(self, sending: Sending, notice: SendingStopped) -> None:
        if sending.close_source:
            await release_source(sending.track, sending.playlist)
        self.last_stopped = sending.notice = notice
        sending.done.set()
        log.info("our presentation stopped: %s (%s)", notice.reason, notice.detail)
        for callback in list(self._callbacks):
            try:
                callback(notice)
            except Exception:
                log.exception("a presentation on_stopped callback failed")

    async def _call_ended(self, call: PresentingCall) -> None:
        if call is not self._call:
            return
        self._call, self._call_on_track = None, None
        self._receiving.call_gone()
        await self._stop_sending("call_ended", "the media call ended")
        if self.presenter is not None:
            await self._receive()  # the JPEG fallback, if the application gave it a sink

    # -- helpers ----------------------------------------------------------------------------------

    def _live_call(self) -> PresentingCall | None:
        return live(self._call)

    def _presenting_call(self) -> PresentingCall:
        call = self._live_call()
        if call is None:
            raise CallError("cannot present without a media call: start one with session.call()")
        if "slides" not in call.roles:
            raise CallError(f"cannot present: the call has no presentation line ({call!r})")
        if self._sending is not None:
            raise CallError("already presenting: stop() before presenting something else")
        return call

    async def _receive(self) -> None:
        await self._receiving.follow(self._call, self._call_on_track)

    async def _unreceive(self) -> None:
        await self._receiving.unfollow(self._call)
