"""The stage and what each participant is shown: ``stage`` and ``layout`` events, and the views
a composing media backend paints.

The node is the single source of truth for layouts: for every participant it decides the
layout and the participants in tile order (:class:`.media.MediaView`), sends that list as the
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
from pexbot.emulator.media.backend import ComposingBackend, MediaBackend, MediaView
from pexbot.emulator.media.speakers import StageOrder
from pexbot.wire import events as wire_events

from . import assets
from .events import EventBus
from .model import Conference, Participant, Room
from .timers import Timers

#: seconds between two voice-driven stage publications of one room
STAGE_INTERVAL = 0.5


def stage_key(room_id: str) -> str:
    return f"stage:{room_id}"


class StageViews:
    bus: EventBus
    conferences: dict[str, Conference]
    participants: dict[str, Participant]
    media: MediaBackend
    timers: Timers
    now: Callable[[], float]

    def __init__(self) -> None:
        self._last_layout: dict[str, Any] = {}
        self._last_stage: dict[str, Any] = {}
        self._speakers: dict[str, StageOrder] = {}
        self._last_publish: dict[str, float] = {}
        self._publish_pending: set[str] = set()

    # -- what each participant sees ---------------------------------------------------------

    def _ordered_media(self, room: Room) -> list[Participant]:
        media = room.media_participants()
        order = self._speakers.get(room.id)
        if order is None:
            order = StageOrder()  # nobody heard yet: spotlight, then join order
        return order.order(media)

    def _stage(self, room: Room) -> list[dict[str, Any]]:
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

    def _layout_for(self, participant: Participant, room: Room) -> dict[str, Any]:
        return self._layout_event(self.view_for(participant, room), room)

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

    def refresh_media_views(self, room: Room) -> None:
        """Send ``stage`` to the room and ``layout`` to each client whose view changed, and
        tell a composing backend what to paint for each."""
        self._last_publish[room.id] = self.now()
        stage = self._stage(room)
        if stage != self._last_stage.get(room.id):
            self._last_stage[room.id] = stage
            self.emit_room(room, "stage", stage)
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
                self.bus.send(p.uuid, "layout", layout)
        if isinstance(self.media, ComposingBackend):
            self.media.set_views(room.id, views)

    def emit_room(
        self,
        room: Room,
        event: str,
        data: Any,
        *,
        exclude: str | None = None,
        only: Callable[[Participant], bool] | None = None,
    ) -> None:
        raise NotImplementedError  # RoomEvents: to the room, and wrapped to hosts for breakouts

    # -- voice activity (from a composing backend) -------------------------------------------

    def voice_activity(self, room_id: str, participant_uuid: str, speaking: bool) -> None:
        participant = self.participants.get(participant_uuid)
        if participant is None or participant.room_id != room_id:
            return  # gone, or moved on since the audio was heard
        order = self._speakers.setdefault(room_id, StageOrder())
        if order.voice(participant_uuid, speaking):
            self._publish_soon(participant.conference_id, room_id)

    def _publish_soon(self, conference_id: str, room_id: str) -> None:
        if room_id in self._publish_pending:
            return
        wait = self._last_publish.get(room_id, -math.inf) + STAGE_INTERVAL - self.now()
        if wait <= 0:
            self._publish(conference_id, room_id)
            return
        self._publish_pending.add(room_id)
        self.timers.call_later(
            wait, lambda: self._publish(conference_id, room_id), key=stage_key(room_id)
        )

    def _publish(self, conference_id: str, room_id: str) -> None:
        self._publish_pending.discard(room_id)
        conference = self.conferences.get(conference_id)
        room = conference.room(room_id) if conference is not None else None
        if room is not None:
            self.refresh_media_views(room)

    def forget_speaker(self, participant: Participant, room_id: str | None = None) -> None:
        """Drop the participant's voice history in ``room_id`` (default: its room)."""
        order = self._speakers.get(room_id or participant.room_id)
        if order is not None:
            order.forget(participant.uuid)

    def forget_room_views(self, room: Room) -> None:
        self._last_stage.pop(room.id, None)
        self._speakers.pop(room.id, None)
        self._last_publish.pop(room.id, None)
        self._publish_pending.discard(room.id)
        self.timers.cancel_key(stage_key(room.id))
