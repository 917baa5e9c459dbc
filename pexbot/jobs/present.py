"""The present job: join, take the floor, play files as the presentation, give the floor back.

::

    playlist = await open_playlist(options)          # checks the files: typed media errors
    job = PresentJob(target, options, playlist=playlist, on_item=print)
    result = await job.run(stop)                     # stop: an asyncio.Event (a signal handler)

The files (videos paced in real time, images shown ``slide_seconds`` each, folders as slide
decks) play once, or round and round with ``loop``, as the call's presentation stream
(:meth:`pexbot.presentation.PresentationController.start`). The bot itself sends black video
and silence on the main line.

Ends when the files are over (``"finished"``), after ``duration`` seconds of presenting, on
``stop``, when someone else takes the floor (``"taken_over"``) or when the node ends the
session or the call (``"ended"``). Every way out gives the floor back if we still hold it
(``release_floor``) and leaves the conference (call disconnected, token released). A refused
floor raises :class:`~pexbot.errors.FloorDenied` (after leaving).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from media.content import ContentCaps
from media.presenter import PresentationPlaylist
from media.slides import ImageItem, PresentationItem, VideoItem
from pexbot.presentation.controller import SendingStopped
from pexbot.session.session import Session

from .metrics import MetricsRegistry
from .target import JoinTarget, every, until_end

PresentEnd = Literal["finished", "duration", "stopped", "taken_over", "ended"]


@dataclass(frozen=True)
class PresentOptions:
    paths: tuple[Path, ...]
    slide_seconds: float = 5.0
    loop: bool = False
    #: seconds of presenting (from the floor taken) before giving it back; None: until over
    duration: float | None = None
    #: a frame-number code in each frame's corner (for tests: a receiver can read them)
    stamp_codes: bool = False
    caps: ContentCaps = field(default_factory=ContentCaps)
    #: how often the item on screen is looked at (an item shown for less may get no line)
    poll_every: float = 0.1


async def open_playlist(options: PresentOptions) -> PresentationPlaylist:
    """The files as a playlist, checked now (in a thread): a missing or unreadable file raises
    the typed :class:`media.errors.SourceError` before anything is joined."""
    return await PresentationPlaylist.open(
        list(options.paths),
        seconds=options.slide_seconds,
        loop=options.loop,
        caps=options.caps,
        stamp_codes=options.stamp_codes,
    )


@dataclass(frozen=True)
class PlayedItem:
    """One item coming on screen: ``number`` counts plays from 1, ``index`` is its place in
    the playlist, ``round`` the pass through it (from 1), ``at`` seconds since the floor."""

    number: int
    index: int
    of: int
    label: str
    kind: str
    round: int
    at: float
    seconds: float | None  # how long an image is shown (None: a video, as long as it lasts)


def item_kind(item: PresentationItem) -> str:
    if isinstance(item, ImageItem):
        return "image"
    if isinstance(item, VideoItem):
        return "video"
    return "track"


class PlayTracker:
    """Turns looks at a playlist (the item on screen, rounds completed, over or not) into
    :class:`PlayedItem` records. Pure: fed the observations and the time."""

    def __init__(self, items: Sequence[PresentationItem]) -> None:
        self._items = list(items)
        self.played: list[PlayedItem] = []
        self._index: int | None = None
        self._rounds = 0

    def observe(
        self, index: int | None, rounds_completed: int, ended: bool, at: float
    ) -> PlayedItem | None:
        """The item that came on screen since the last look, if one did."""
        if index is None:
            return None
        # The playlist counts a round as it switches to the next round's first item, in one
        # step; a once-through playlist counts its last round as it ends: not a new play.
        again = index == self._index and rounds_completed > self._rounds and not ended
        fresh = index != self._index or again
        self._index, self._rounds = index, rounds_completed
        if not fresh:
            return None
        item = self._items[index]
        seconds = item.seconds if isinstance(item, ImageItem) else None
        played = PlayedItem(
            number=len(self.played) + 1,
            index=index,
            of=len(self._items),
            label=item.label,
            kind=item_kind(item),
            round=rounds_completed + 1,
            at=round(at, 3),
            seconds=seconds,
        )
        self.played.append(played)
        return played


@dataclass
class PresentResult:
    ended: PresentEnd
    detail: str
    seconds: float  # from the floor taken to given back
    frames_sent: int
    items: list[PlayedItem]
    rounds: int  # passes through the playlist completed
    taken_by: str | None = None
    errors: list[str] = field(default_factory=list)  # items that could not be played

    def to_json(self) -> dict[str, Any]:
        return {
            "ended": self.ended,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "frames_sent": self.frames_sent,
            "items_played": len(self.items),
            "rounds": self.rounds,
            "items": [asdict(item) for item in self.items],
            "taken_by": self.taken_by,
            "errors": self.errors,
        }


class PresentJob:
    """See the module docstring. The job owns ``playlist`` (opened from ``options`` when not
    given) and closes it however it ends."""

    def __init__(
        self,
        target: JoinTarget,
        options: PresentOptions,
        *,
        playlist: PresentationPlaylist | None = None,
        on_item: Callable[[PlayedItem], None] | None = None,
        metrics: MetricsRegistry | None = None,
    ) -> None:
        self.target = target
        self.options = options
        self.playlist = playlist
        self._on_item = on_item
        self._metrics = metrics or MetricsRegistry()
        _describe(self._metrics)
        self._tracker: PlayTracker | None = None
        self._started_at: float | None = None

    async def run(self, stop: asyncio.Event | None = None) -> PresentResult:
        playlist = self.playlist
        try:
            if playlist is None:
                playlist = self.playlist = await open_playlist(self.options)
            self._tracker = PlayTracker(playlist.items)
            async with self.target.session() as session:
                result = await self._present(session, playlist, stop)
        finally:
            self._metrics.set("pexbot_bots_joined", 0)
            self._metrics.set("pexbot_presenting", 0)
            if playlist is not None:
                await playlist.close()
        return result

    async def _present(
        self, session: Session, playlist: PresentationPlaylist, stop: asyncio.Event | None
    ) -> PresentResult:
        call = await session.call()
        self._metrics.set("pexbot_bots_joined", 1)
        stopped = asyncio.Event()
        unsubscribe = session.presentation.on_stopped(lambda _: stopped.set())
        try:
            await session.presentation.start(playlist, close_source=True)
            self._started_at = time.monotonic()
            self._metrics.set("pexbot_presenting", 1)
            self._look(playlist)
            step = every(self.options.poll_every, self._poll, what="presentation progress")
            session.spawn(step, name="pexbot-present-progress")
            how = await until_end(
                duration=self.options.duration,
                stop=stop,
                ended=[stopped, session.ended, call.ended],
            )
            # why it stopped by itself, before our own stop adds a "released"
            notice = session.presentation.last_stopped if stopped.is_set() else None
            if session.presentation.sending and not session.ended.is_set():
                await session.presentation.stop()  # release_floor, slides inactive
        finally:
            unsubscribe()
        seconds = time.monotonic() - self._started_at
        self._metrics.set("pexbot_presenting", 0)
        self._look(playlist)
        ended, detail, taken_by = _why(how, session, notice)
        assert self._tracker is not None
        return PresentResult(
            ended=ended,
            detail=detail,
            seconds=seconds,
            frames_sent=playlist.track.frames_out,
            items=list(self._tracker.played),
            rounds=playlist.rounds_completed,
            taken_by=taken_by,
            errors=[str(error) for error in playlist.errors],
        )

    async def _poll(self) -> None:
        if self.playlist is not None:
            self._look(self.playlist)

    def _look(self, playlist: PresentationPlaylist) -> None:
        if self._tracker is None or self._started_at is None:
            return
        at = time.monotonic() - self._started_at
        played = self._tracker.observe(
            playlist.current_index, playlist.rounds_completed, playlist.ended.is_set(), at
        )
        m = self._metrics
        m.set("pexbot_frames_total", playlist.track.frames_out, role="presentation", kind="video")
        m.set("pexbot_presentation_items_total", len(self._tracker.played))
        if played is not None and self._on_item is not None:
            self._on_item(played)


def _why(
    how: str, session: Session, notice: SendingStopped | None
) -> tuple[PresentEnd, str, str | None]:
    """How the presentation ended, a detail for people, and who took the floor over."""
    if session.ended.is_set():
        return "ended", f"the session ended: {session.end_reason or 'by the node'}", None
    if notice is not None:
        if notice.reason == "source_ended":
            return "finished", "every item was played", None
        if notice.reason == "taken_over":
            taken = notice.taken_by
            who = (taken.presenter_name or taken.presenter_uri) if taken else None
            return "taken_over", notice.detail, who or "another participant"
        return "ended", notice.detail, None
    if how == "duration":
        return "duration", "the duration ran out", None
    if how == "stopped":
        return "stopped", "asked to stop", None
    return "ended", "the media call ended", None


def _describe(m: MetricsRegistry) -> None:
    m.describe("pexbot_bots_joined", "bots in the conference")
    m.describe("pexbot_presenting", "1 while the bot holds the floor and presents")
    m.describe("pexbot_frames_total", "presentation frames sent", "counter")
    m.describe("pexbot_presentation_items_total", "items that came on screen", "counter")
