"""Presentation in the emulated node: the floor, who gets the slides, and the JPEG frames.

Floor. One presenter per room. ``take_floor`` by someone else moves the floor at once (as
Infinity does for WebRTC: the newest presenter wins); the previous presenter learns it from the
``presentation_start`` naming the new one, which is what makes Pexip's own client stop sending
(official-client-flow.md §11). ``presentation_start`` goes to every client in the room *except
the presenter*: whether Infinity echoes it to the presenter is not known, and the official
client would stop its own presentation if it did. ``release_floor`` by anyone but the presenter
changes nothing (the old presenter releasing after being taken over must not end the new
presentation). Leaving the room ends a presentation with ``presentation_stop``.

Receive policy (``allowrxpresentation`` / ``denyrxpresentation``; the participant resource's
``rx_presentation_policy``, ``participant_update`` when it changes). A participant whose policy
is ``DENY`` gets no presentation at all: no ``presentation_start`` (nor ``presentation_stop``)
on the floor's changes or when it opens an event stream, no ``presentation_frame``, 403 from the
JPEG routes, and no slides from the room's router (the filler instead). Denied while a
presentation runs, it gets ``presentation_stop``; allowed again during one, it gets
``presentation_start``, so Pexip's client turns its slides line recvonly and then receives
(official-client-flow.md §11). The presenter's own policy does not touch its presenting. One
exception: a denied presenter whose floor is taken gets the ``presentation_start`` naming the
new presenter, as that is how a client learns it lost the floor, and at once a
``presentation_stop`` (its slides line goes back to inactive: it is sent nothing). Infinity's
own behaviour here is not documented; this is the reading that keeps Pexip's client right.

Media. The floor is pushed to the room's media router (:meth:`RelayRouter.set_presenter`),
which relays only the presenter's slides, to every other participant's slides line; the
composing router relays slides the same way. It is pushed again on every media-view refresh,
so a router made after the floor was taken (first call of a room) learns it too.

JPEGs. While someone presents, a ticker (one emulator timer per room) looks at the newest
slides frame the node received from the presenter. When there is a new one, at most once per
``frame_interval`` (1 s), it encodes it to JPEG in a thread (``presentation_high.jpeg``: full
size; ``presentation.jpeg``: at most 1280 wide) and sends ``presentation_frame`` with a fresh
SSE ``id`` to everyone else in the room. A presentation the node sees no picture of (a
signalling-only backend, a direct-media conference) gets one ``presentation_frame`` at once and
a placeholder picture, so clients of such an emulator still exercise the download. The JPEG
routes want a frame id (any the node issued; they serve the newest picture, as a frame id only
names a moment) and answer 404 when nobody presents (403 to a participant denied it).
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pexbot.emulator.media.backend import MediaBackend

from . import assets
from .events import EventBus
from .model import Conference, ForbiddenError, NotFoundError, Participant, Room
from .room_events import RoomEvents
from .timers import Timers

if TYPE_CHECKING:
    from av import VideoFrame

    from pexbot.emulator.media.router import Leg

log = logging.getLogger(__name__)

#: width limit of ``presentation.jpeg`` (``presentation_high.jpeg`` is full size)
LOW_MAX_WIDTH = 1280
#: the JPEG routes' 403 for a participant whose ``rx_presentation_policy`` is ``DENY``
RX_DENIED = "Participant is not allowed to receive presentation"
#: JPEG quantiser scale (2 best .. 31 worst): 3 keeps small print, and pattern codes, legible
JPEG_QSCALE = 3


@runtime_checkable
class FloorRouter(Protocol):
    """A room's media router that relays slides by the floor (``RelayRouter`` and subclasses)."""

    @property
    def legs(self) -> list[Leg]: ...

    def set_presenter(self, participant_uuid: str | None) -> None: ...


@runtime_checkable
class RoutedMedia(Protocol):
    """A media backend whose rooms have routers (the aiortc backend). Checked by shape, so the
    emulator imports aiortc only when media is wanted."""

    def router(self, room: str) -> object: ...


@dataclass(frozen=True)
class PresentationImage:
    """The newest presentation picture of a room, as served."""

    frame_id: str
    jpeg: bytes  # presentation.jpeg
    jpeg_high: bytes  # presentation_high.jpeg
    width: int
    height: int


def encode_jpeg(frame: VideoFrame, *, max_width: int | None = None) -> bytes:
    """``frame`` as a baseline JPEG, scaled down to ``max_width`` if wider (CPU: a thread)."""
    import av

    width, height = frame.width, frame.height
    if max_width is not None and width > max_width:
        height = max(2, round(height * max_width / width / 2) * 2)
        width = max_width
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = fractions.Fraction(1, 1)
    # A fixed quantiser: the default rate control would starve a 1080p picture.
    codec.flags |= av.codec.context.Flags.qscale
    codec.qmin = codec.qmax = JPEG_QSCALE
    codec.global_quality = JPEG_QSCALE * 118  # FF_QP2LAMBDA
    packets = [*codec.encode(picture), *codec.encode(None)]
    return b"".join(bytes(p) for p in packets)


def encode_image(frame: VideoFrame, frame_id: str) -> PresentationImage:
    high = encode_jpeg(frame)
    low = high if frame.width <= LOW_MAX_WIDTH else encode_jpeg(frame, max_width=LOW_MAX_WIDTH)
    return PresentationImage(frame_id, low, high, frame.width, frame.height)


# -- the floor ------------------------------------------------------------------------------------


class FloorHost(Protocol):
    """What the floor rules need of the node (:class:`.node.Node` is one)."""

    @property
    def conferences(self) -> Mapping[str, Conference]: ...

    @property
    def room_events(self) -> RoomEvents: ...

    @property
    def presentation(self) -> PresentationMedia: ...

    def room_of(self, participant: Participant) -> Room: ...

    def participant_updated(self, participant: Participant) -> None:
        """``participant_update`` to the room, and its media told the new policy."""
        ...


def take_floor(node: FloorHost, room: Room, p: Participant) -> None:
    """``take_floor``: ``p`` presents from now on (the floor moves if someone else had it)."""
    conference = node.conferences[room.conference_id]
    if not p.is_host and not conference.config.guests_can_present:
        raise ForbiddenError("Guests cannot present in this conference")
    if not room.presentation_allowed:
        raise ForbiddenError("Presentation is not allowed")
    if room.presenter_uuid == p.uuid:
        return  # already presenting: nothing changes, nobody is told again
    previous = room.participants.get(room.presenter_uuid or "")
    if previous is not None:
        previous.is_presenting = False
        node.participant_updated(previous)
    room.presenter_uuid = p.uuid
    p.is_presenting = True
    node.participant_updated(p)
    node.room_events.presentation_started(room, p, previous)
    node.presentation.started(room)


def set_rx_presentation(node: FloorHost, p: Participant, allowed: bool) -> bool:
    """``allowrxpresentation`` / ``denyrxpresentation``: see the module docstring."""
    changed = p.rx_presentation != allowed
    p.rx_presentation = allowed
    node.participant_updated(p)  # also re-tells the room's media who is denied
    room = node.room_of(p)
    presenter = room.participants.get(room.presenter_uuid or "")
    if changed and presenter is not None and presenter is not p:
        node.room_events.reception_changed(p, presenter)
    return True


def release_floor(node: FloorHost, room: Room, p: Participant) -> None:
    """``release_floor``: ends the presentation if ``p`` holds the floor, else nothing."""
    if room.presenter_uuid == p.uuid:
        stop_presentation(node, room)


def stop_presentation(node: FloorHost, room: Room) -> None:
    """Nobody presents in ``room`` any more (released, left, moved to another room)."""
    presenter = room.participants.get(room.presenter_uuid or "")
    room.presenter_uuid = None
    if presenter is not None:
        presenter.is_presenting = False
    node.room_events.presentation_stopped(room, presenter)
    if presenter is not None:
        node.participant_updated(presenter)
    node.presentation.stopped(room)


# -- media and pictures ---------------------------------------------------------------------------


class PresentationMedia:
    """The node's presentation media: floor → routers, slides → JPEGs + ``presentation_frame``."""

    def __init__(
        self,
        *,
        bus: EventBus,
        media: MediaBackend,
        timers: Timers,
        conferences: Mapping[str, Conference],
        frame_interval: float = 1.0,
        poll: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._media = media
        self._timers = timers
        self._conferences = conferences
        #: the SSE ``id`` of each ``presentation_frame``, which the JPEG routes want back
        self._frame_ids = itertools.count(1)
        #: least time between two ``presentation_frame`` events of one room
        self.frame_interval = frame_interval
        self._poll = poll
        self._clock = clock
        self._images: dict[str, PresentationImage] = {}
        #: frames encoded and announced, by room (tests, diagnostics)
        self.frames_sent: dict[str, int] = {}

    @staticmethod
    def _key(room: Room) -> str:
        return f"{room.id}:presentation"

    def started(self, room: Room) -> None:
        """Someone took the floor of ``room`` (called after the events went out)."""
        self._timers.cancel_key(self._key(room))
        self._images.pop(room.id, None)
        self.sync_media(room)
        presenter = room.presenter_uuid
        if presenter is None:
            return
        if self._sees_media(room):
            self._timers.spawn(self._tick(room, presenter), key=self._key(room))
        else:
            self._announce(room, presenter, str(next(self._frame_ids)))

    def stopped(self, room: Room) -> None:
        """Nobody presents in ``room`` any more."""
        self._timers.cancel_key(self._key(room))
        self._images.pop(room.id, None)
        self.sync_media(room)

    def sync_media(self, room: Room) -> None:
        """Tell the room's router who has the floor (idempotent; cheap)."""
        media = self._media
        if not isinstance(media, RoutedMedia):
            return
        router = media.router(room.id)
        if isinstance(router, FloorRouter):
            router.set_presenter(room.presenter_uuid)

    def image(self, room: Room) -> PresentationImage | None:
        """The newest picture of the room's presentation (None: none seen yet)."""
        return self._images.get(room.id)

    def jpeg(self, room: Room, viewer: Participant, *, high: bool) -> bytes:
        """The picture ``viewer`` asked for (the placeholder until one is seen): 403 if it may
        not receive the presentation, else 404 if nobody presents."""
        if not viewer.rx_presentation:
            raise ForbiddenError(RX_DENIED)
        if room.presenter_uuid is None:
            raise NotFoundError("No presentation")
        image = self._images.get(room.id)
        if image is None:
            return assets.PLACEHOLDER_JPEG
        return image.jpeg_high if high else image.jpeg

    # -- internals ------------------------------------------------------------------------------

    def _sees_media(self, room: Room) -> bool:
        conference = self._conferences.get(room.conference_id)
        direct = conference is not None and bool(conference.config.direct_media)
        return isinstance(self._media, RoutedMedia) and not direct

    def _presenter_leg(self, room: Room, presenter: str) -> Leg | None:
        media = self._media
        router = media.router(room.id) if isinstance(media, RoutedMedia) else None
        if not isinstance(router, FloorRouter):
            return None
        for leg in reversed(router.legs):
            if leg.call.participant_uuid == presenter and "slides" in leg.sending:
                return leg
        return None

    async def _tick(self, room: Room, presenter: str) -> None:
        from av import VideoFrame

        seen = -1
        last_sent = float("-inf")
        while room.presenter_uuid == presenter:
            await asyncio.sleep(self._poll)
            leg = self._presenter_leg(room, presenter)
            if leg is None or self._clock() - last_sent < self.frame_interval:
                continue
            count = leg.frames_in["slides"]
            frame = leg.last_in.get("slides")
            if count == seen or not isinstance(frame, VideoFrame):
                continue
            seen = count
            frame_id = str(next(self._frame_ids))
            image = await asyncio.to_thread(encode_image, frame, frame_id)
            if room.presenter_uuid != presenter:
                return  # the floor moved while encoding
            self._images[room.id] = image
            last_sent = self._clock()
            self._announce(room, presenter, frame_id)

    def _announce(self, room: Room, presenter: str, frame_id: str) -> None:
        self.frames_sent[room.id] = self.frames_sent.get(room.id, 0) + 1
        for uuid, other in list(room.participants.items()):
            if uuid != presenter and other.kind == "client" and other.rx_presentation:
                self._bus.send(uuid, "presentation_frame", None, id=frame_id)
