"""A media call's presentation line: presenting on it (``take_floor`` → ``sendonly``), giving it
up (``release_floor`` → ``inactive``), being taken over, and receiving someone else's.

When to do which is :class:`pexbot.presentation.PresentationController`'s business; this is
how, on one call (official-client-flow.md §11). In direct media the presenter's offers turn the
far end's line, so a watcher makes no offer of its own; should offers crossing while the floor
moved leave the line contradicting what we do, :meth:`CallPresenting.slides_unsettled` says so
and the call's supervisor repairs it (:meth:`CallPresenting.settle_slides`).
"""

from __future__ import annotations

import contextlib
import logging

from aiortc.mediastreams import MediaStreamTrack

from pexbot.errors import PexbotError

from .base import CallBase

log = logging.getLogger("pexbot.call")  # one logger for every part of a call


class CallPresenting(CallBase):
    """The presentation line; part of :class:`~pexbot.call.MediaCall`."""

    async def start_presenting(self, track: MediaStreamTrack) -> None:
        """take_floor, then send ``track`` on the slides line (sendonly, via update).

        FloorDenied when the node refuses the floor. If the renegotiation fails after the floor
        was granted, the call is put back first (not presenting, floor given back, line
        inactive as far as the node still answers) and the error raised."""
        self._require_slides("present")
        await self._signalling.take_floor()
        self.slides.set_source(track)
        self.presenting = True
        try:
            await self.set_slides_direction("sendonly")
        except Exception as exc:
            log.warning("call %s: presenting failed (%s); giving the floor back", self, exc)
            self.presenting = False
            self.slides.set_source(None)
            with contextlib.suppress(PexbotError):
                await self._signalling.release_floor()
            with contextlib.suppress(PexbotError):
                await self.set_slides_direction("inactive")
            raise

    async def stop_presenting(self) -> None:
        """release_floor, then set the slides line inactive."""
        self._require_slides("stop presenting")
        self.presenting = False
        self.slides.set_source(None)
        await self._signalling.release_floor()
        await self.set_slides_direction("inactive")

    async def yield_presentation(self) -> None:
        """Someone took the floor from us: stop sending at once, give the floor back as Pexip's
        client does (the node has moved it already; ignoring errors), and receive theirs.

        One renegotiation (``recvonly``) where Pexip's client sets ``inactive`` then
        ``recvonly``, which a browser coalesces into one offer too. In direct media we make no
        offer: the new presenter's own (``sendonly``) turns our line, and an offer of ours
        would only cross it; should the line still send after that, the call's supervisor
        renegotiates it (:meth:`slides_unsettled`)."""
        self._require_slides("stop presenting")
        self.presenting = False
        self.slides.set_source(None)
        try:
            await self._signalling.release_floor()
        except PexbotError as exc:
            log.info("call %s: release_floor after a takeover failed: %s", self, exc)
        if self.options.direct_media:
            self.slides_direction = "recvonly"
        else:
            await self.set_slides_direction("recvonly")

    async def receive_presentation(self) -> None:
        """After ``presentation_start``: slides line recvonly; the track arrives via on_track."""
        self._require_slides("receive presentation")
        if self.presenting:
            await self.stop_presenting()
        await self.set_slides_direction("recvonly")

    async def stop_receiving_presentation(self) -> None:
        self._require_slides("stop receiving presentation")
        if not self.presenting:
            await self.set_slides_direction("inactive")

    def slides_unsettled(self) -> bool:
        """Direct media: the slides line, as last negotiated, contradicts what we do (we
        present and it does not send, or it sends while we do not). Offers of the two ends
        crossing while the floor moves can leave it so; :meth:`settle_slides` repairs it."""
        peer = self._peer
        if (
            not self.options.direct_media
            or "slides" not in self.roles
            or peer is None
            or self._closed
            or self.waiting_for_peer
            or self._update is not None
            or self._lock.locked()
        ):
            return False
        negotiated = peer.negotiated_direction("slides")
        if negotiated is None:
            return False
        sends = negotiated in ("sendonly", "sendrecv")
        return sends != self.presenting

    async def settle_slides(self) -> None:
        """Offer the slides direction that matches what we do (see :meth:`slides_unsettled`)."""
        await self.set_slides_direction("sendonly" if self.presenting else "recvonly")
