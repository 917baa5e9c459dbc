"""A media call's presentation line: presenting on it (``take_floor`` → ``sendonly``), giving it
up (``release_floor`` → ``inactive``), being taken over, and receiving someone else's.

When to do which is :class:`pexbot.presentation.PresentationController`'s business; this is
how, on one call (official-client-flow.md §11). In direct media the presenter's offers turn the
far end's line, so a watcher makes no offer of its own; should offers crossing while the floor
moved leave the line contradicting what we do, :meth:`PresentingLine.slides_unsettled` says so
and the call's supervisor repairs it (:meth:`PresentingLine.settle_slides`).

The line owns whether we present; the offers that turn it are the negotiator's
(:class:`SlidesNegotiation`, :class:`pexbot.call.negotiation.Negotiator`).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol

from aiortc.mediastreams import MediaStreamTrack

from pexbot.errors import CallError, PexbotError
from pexbot.rtc.sdp import Direction, MediaRole
from pexbot.rtc.tracks import OutgoingVideoTrack

from .options import CallOptions

log = logging.getLogger("pexbot.call")  # one logger for every part of a call


class FloorSignalling(Protocol):
    """The session's floor requests (part of :class:`~pexbot.call.CallSignalling`)."""

    async def take_floor(self) -> None: ...
    async def release_floor(self) -> None: ...


class SlidesNegotiation(Protocol):
    """What the line needs of the call's negotiator: offers that turn it, and what it is."""

    @property
    def call_uuid(self) -> str | None: ...
    async def set_slides_direction(self, direction: Direction) -> None: ...
    def expect_slides(self, direction: Direction) -> None: ...
    def settled_slides_direction(self) -> Direction | None: ...


def require_slides_line(roles: list[MediaRole], options: CallOptions, what: str) -> None:
    """CallError unless the call offered a presentation line (``what``: what was refused)."""
    if "slides" not in roles:
        raise CallError(
            f"cannot {what}: this {options.media_type} call has no presentation line"
            + (" (present='main')" if options.present == "main" else "")
        )


class PresentingLine:
    """The presentation line of one call; see the module docstring."""

    def __init__(
        self,
        signalling: FloorSignalling,
        options: CallOptions,
        roles: list[MediaRole],
        slides: OutgoingVideoTrack,
        negotiation: SlidesNegotiation,
    ) -> None:
        self._signalling = signalling
        self._options = options
        self._roles = roles
        self._slides = slides  # outlives every connection: only its source changes
        self._negotiation = negotiation
        #: we hold the floor and send on the line
        self.presenting = False

    def __repr__(self) -> str:
        state = "presenting" if self.presenting else "not presenting"
        return f"PresentingLine(call_uuid={self._negotiation.call_uuid!r}, {state})"

    async def start_presenting(self, track: MediaStreamTrack) -> None:
        """take_floor, then send ``track`` on the slides line (sendonly, via update).

        FloorDenied when the node refuses the floor. If the renegotiation fails after the floor
        was granted, the call is put back first (not presenting, floor given back, line
        inactive as far as the node still answers) and the error raised."""
        self._require("present")
        await self._signalling.take_floor()
        self._slides.set_source(track)
        self.presenting = True
        try:
            await self._negotiation.set_slides_direction("sendonly")
        except Exception as exc:
            log.warning("%r: presenting failed (%s); giving the floor back", self, exc)
            self._stop_sending()
            with contextlib.suppress(PexbotError):
                await self._signalling.release_floor()
            with contextlib.suppress(PexbotError):
                await self._negotiation.set_slides_direction("inactive")
            raise

    async def stop_presenting(self) -> None:
        """release_floor, then set the slides line inactive."""
        self._require("stop presenting")
        self._stop_sending()
        await self._signalling.release_floor()
        await self._negotiation.set_slides_direction("inactive")

    async def yield_presentation(self) -> None:
        """Someone took the floor from us: stop sending at once, give the floor back as Pexip's
        client does (the node has moved it already; ignoring errors), and receive theirs.

        One renegotiation (``recvonly``) where Pexip's client sets ``inactive`` then
        ``recvonly``, which a browser coalesces into one offer too. In direct media we make no
        offer: the new presenter's own (``sendonly``) turns our line, and an offer of ours
        would only cross it; should the line still send after that, the call's supervisor
        renegotiates it (:meth:`slides_unsettled`)."""
        self._require("stop presenting")
        self._stop_sending()
        try:
            await self._signalling.release_floor()
        except PexbotError as exc:
            log.info("%r: release_floor after a takeover failed: %s", self, exc)
        if self._options.direct_media:
            self._negotiation.expect_slides("recvonly")
        else:
            await self._negotiation.set_slides_direction("recvonly")

    async def receive_presentation(self) -> None:
        """After ``presentation_start``: slides line recvonly; the track arrives via on_track."""
        self._require("receive presentation")
        if self.presenting:
            await self.stop_presenting()
        await self._negotiation.set_slides_direction("recvonly")

    async def stop_receiving_presentation(self) -> None:
        self._require("stop receiving presentation")
        if not self.presenting:
            await self._negotiation.set_slides_direction("inactive")

    def slides_unsettled(self) -> bool:
        """Direct media: the slides line, as last negotiated, contradicts what we do (we
        present and it does not send, or it sends while we do not). Offers of the two ends
        crossing while the floor moves can leave it so; :meth:`settle_slides` repairs it."""
        if not self._options.direct_media or "slides" not in self._roles:
            return False
        negotiated = self._negotiation.settled_slides_direction()
        if negotiated is None:
            return False
        sends = negotiated in ("sendonly", "sendrecv")
        return sends != self.presenting

    async def settle_slides(self) -> None:
        """Offer the slides direction that matches what we do (see :meth:`slides_unsettled`)."""
        await self._negotiation.set_slides_direction("sendonly" if self.presenting else "recvonly")

    def _stop_sending(self) -> None:
        self.presenting = False
        self._slides.set_source(None)

    def _require(self, what: str) -> None:
        require_slides_line(self._roles, self._options, what)
