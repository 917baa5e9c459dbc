"""The stage and what each participant is shown: ``stage`` and ``layout`` events, and the views
a composing media backend paints.

:class:`StageViews` is the single source of truth for layouts: for every participant it decides
the layout and the participants in tile order (:class:`.media.MediaView`), sends that list as the
``layout`` event's ``participants`` and hands the same views to a composing backend
(:class:`.media.ComposingBackend`), which paints exactly them. So what an event says and what
the picture shows agree by construction.

Stage order (:class:`.speakers.StageOrder`): spotlighted participants first, then by voice
activity, which a composing backend reports (:meth:`StageViews.voice_activity`). Changes
driven by voice are published at most every :data:`STAGE_INTERVAL` seconds per room (a
talkative room must not flood every client with events); roster and layout changes are
published at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pexbot.emulator.media import layouts
from pexbot.emulator.media.backend import (
    ComposingBackend,
    ForwardingBackend,
    MediaBackend,
    MediaView,
)
from pexbot.emulator.media.speakers import StageOrder
from pexbot.wire import events as wire_events

from . import assets
from .events import EventBus
from .model import Participant, Room
from .registry import Registry
from .timers import Timers

#: seconds between two voice-driven stage publications of one room
STAGE_INTERVAL = 0.5

#: sends one event to a room (:meth:`.room_events.RoomEvents.emit_room`)
EmitRoom = Callable[[Room, str, Any], None]


def stage_key(room_id: str) -> str:
    return f"stage:{room_id}"


class StageViews:
    """What every participant is shown, and the events that say so.

    ``on_refresh`` runs after each publication of a room (roster-driven or voice-driven
    alike): the node re-tells the room's media what goes with the views (the floor, mutes).
    """

    def __init__(
        self,
        *,
        bus: EventBus,
        emit_room: EmitRoom,
        registry: Registry,
        media: MediaBackend,
        timers: Timers,
        now: Callable[[], float],
        on_refresh: Callable[[Room], None] = lambda room: None,
    ) -> None:
        self._bus = bus
        self._emit_room = emit_room
        self._registry = registry
        self._media = media
        self._timers = timers
        self._now = now
        self._on_refresh = on_refresh
        self._last_layout: dict[str, Any] = {}  # by participant uuid
        self._last_stage: dict[str, Any] = {}  # by room id
        self._speakers: dict[str, StageOrder] = {}  # by room id
        self._last_publish: dict[str, float] = {}  # by room id
        self._publish_pending: set[str] = set()  # room ids

    # -- what each participant sees ---------------------------------------------------------

    def _ordered_media(self, room: Room) -> list[Participant]:
        media = room.media_participants()
        order = self._speakers.get(room.id)
        if order is None:
            order = StageOrder()  # nobody heard yet: spotlight, then join order
        return order.order(media)

    def stage(self, room: Room) -> list[dict[str, Any]]:
        """The ``stage`` event of the room as it is now."""
        order = self._speakers.get(room.id)
        return [
            wire_events.StageEntry(
                participant_uuid=p.uuid,
                stage_index=i,
                vad=100 if order is not None and order.speaking(p.uuid) else 0,
            ).body()
            for i, p in enumerate(self._ordered_media(room))
        ]

    def _layout_name(self, participant: Participant, room: Room) -> str:
        if isinstance(self._media, ForwardingBackend):
            return self._media.forward_layout  # a forwarder sends one participant, not a layout
        guest_layout = room.transforms.get("guest_layout")
        if not participant.is_host and isinstance(guest_layout, str):
            # Virtual Auditorium: guests have their own layout (transform_layout checked it)
            return assets.canonical_layout(guest_layout) or room.layout
        return room.layout

    def view_for(
        self, participant: Participant, room: Room, ordered: list[Participant] | None = None
    ) -> MediaView:
        """The layout and the participants (tile order) ``participant`` is sent."""
        layout = self._layout_name(participant, room)
        if not (participant.has_media and participant.admitted):
            return MediaView(layout, ())
        ordered = self._ordered_media(room) if ordered is None else ordered
        others = [p.uuid for p in ordered if p.uuid != participant.uuid]
        return MediaView(layout, tuple(others[: layouts.capacity(layout)]))

    def stream_layout(self, participant: Participant, room: Room) -> dict[str, Any]:
        """The ``layout`` event a new event stream of ``participant`` opens with, remembered
        as the last it was sent (a refresh sends it only what changes)."""
        layout = self._layout_event(self.view_for(participant, room), room)
        self._last_layout[participant.uuid] = layout
        return layout

    def last_layout(self, participant_uuid: str) -> dict[str, Any] | None:
        """The last ``layout`` event the participant was sent (None: none since it joined or
        moved)."""
        layout: dict[str, Any] | None = self._last_layout.get(participant_uuid)
        return layout

    def _layout_event(self, view: MediaView, room: Room) -> dict[str, Any]:
        requested = room.transforms.get("layout") or room.transforms.get("host_layout")
        if isinstance(requested, str):
            # spec: requested_layout has the current names ("2x2"), even if "4:0" was asked
            requested = assets.canonical_layout(requested) or requested
        return wire_events.LayoutData(
            view=layouts.view_name(view.layout),
            participants=list(view.participants),
            requested_layout=requested,
            overlay_text_enabled=bool(room.transforms.get("enable_overlay_text", False)),
        ).body()

    # -- publishing -------------------------------------------------------------------------

    def refresh(self, room: Room) -> None:
        """Send ``stage`` to the room and ``layout`` to each client whose view changed, and
        tell a composing backend what to paint for each."""
        self._last_publish[room.id] = self._now()
        stage = self.stage(room)
        if stage != self._last_stage.get(room.id):
            self._last_stage[room.id] = stage
            self._emit_room(room, "stage", stage)
        ordered = self._ordered_media(room)
        views: dict[str, MediaView] = {}
        for p in list(room.participants.values()):
            if p.kind != "client":
                continue
            view = self.view_for(p, room, ordered)
            if p.has_media:
                views[p.uuid] = view
            layout = self._layout_event(view, room)
            if layout != self._last_layout.get(p.uuid):
                self._last_layout[p.uuid] = layout
                self._bus.send(p.uuid, "layout", layout)
        if isinstance(self._media, ComposingBackend):
            self._media.set_views(room.id, views)
        self._on_refresh(room)

    # -- voice activity (from a composing backend) -------------------------------------------

    def voice_activity(self, room_id: str, participant_uuid: str, speaking: bool) -> None:
        participant = self._registry.participants.get(participant_uuid)
        if participant is None or participant.room_id != room_id:
            return  # gone, or moved on since the audio was heard
        order = self._speakers.setdefault(room_id, StageOrder())
        if order.voice(participant_uuid, speaking):
            self._publish_soon(participant.conference_id, room_id)

    def _publish_soon(self, conference_id: str, room_id: str) -> None:
        if room_id in self._publish_pending:
            return
        wait = self._last_publish.get(room_id, -math.inf) + STAGE_INTERVAL - self._now()
        if wait <= 0:
            self.publish(conference_id, room_id)
            return
        self._publish_pending.add(room_id)
        self._timers.call_later(
            wait, lambda: self.publish(conference_id, room_id), key=stage_key(room_id)
        )

    def publish(self, conference_id: str, room_id: str) -> None:
        """Publish a voice-driven change of the room now (what the rate limit's timer runs)."""
        self._publish_pending.discard(room_id)
        room = self._registry.room(conference_id, room_id)
        if room is not None:
            self.refresh(room)

    # -- forgetting -------------------------------------------------------------------------

    def participant_left(self, participant: Participant) -> None:
        self._last_layout.pop(participant.uuid, None)
        self._forget_speaker(participant.uuid, participant.room_id)

    def participant_moved(self, participant: Participant) -> None:
        """The participant is in another room now: its next refresh sends it a full layout;
        the room it left forgets its voice."""
        self._last_layout.pop(participant.uuid, None)
        if participant.previous_room_id:
            self._forget_speaker(participant.uuid, participant.previous_room_id)

    def _forget_speaker(self, participant_uuid: str, room_id: str) -> None:
        order = self._speakers.get(room_id)
        if order is not None:
            order.forget(participant_uuid)

    def forget_room(self, room: Room) -> None:
        self._last_stage.pop(room.id, None)
        self._speakers.pop(room.id, None)
        self._last_publish.pop(room.id, None)
        self._publish_pending.discard(room.id)
        self._timers.cancel_key(stage_key(room.id))
