"""The presentation controller's vocabulary: why our presentation stopped
(:class:`SendingStopped`, the application sees it), what is being sent (:class:`Sending`) and
the actions its worker applies in order besides the node's events."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aiortc.mediastreams import MediaStreamTrack

from pexbot.events import PresentationStarted, PresentationStopped

from .receiving import PresentingCall

if TYPE_CHECKING:
    from media.presenter import PresentationPlaylist

StopReason = Literal["released", "taken_over", "call_ended", "source_ended", "closed"]


@dataclass(frozen=True)
class SendingStopped:
    """Why our presentation stopped; ``taken_by`` is the presentation that took the floor."""

    reason: StopReason
    detail: str
    taken_by: PresentationStarted | None = None


@dataclass(eq=False)
class Sending:
    """Our presentation while it lasts: what we send, and whether we close it at the end."""

    track: MediaStreamTrack
    playlist: PresentationPlaylist | None
    close_source: bool
    done: asyncio.Event
    notice: SendingStopped | None = None


# -- what the controller's worker applies, besides presentation_start / presentation_stop ------


@dataclass(frozen=True, eq=False)
class CallEnded:
    call: PresentingCall


@dataclass(frozen=True)
class Reconsider:
    """A call or a JPEG sink appeared: follow a presentation already running."""


@dataclass(frozen=True, eq=False)
class SourceEnded:
    sending: Sending


Action = PresentationStarted | PresentationStopped | CallEnded | Reconsider | SourceEnded


def is_revocation(event: PresentationStarted) -> bool:
    """An all-empty ``presentation_start``: Pexip's client ignores it, so do we."""
    return not (event.presenter_name or event.presenter_uri or event.presenter_uuid)


async def release_source(track: MediaStreamTrack, playlist: PresentationPlaylist | None) -> None:
    if playlist is not None:
        await playlist.close()
    else:
        track.stop()
