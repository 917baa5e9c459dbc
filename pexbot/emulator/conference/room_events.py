"""Room-wide events of the node: roster fan-out, stream sync, presentation (stage and layout
are in :mod:`.stage_views`).

:class:`RoomEvents` is the half of :class:`.node.Node` that turns state changes into events.
Event order on a new event stream: ``participant_sync_begin``, one ``participant_create`` per
participant in the room (self included), ``participant_sync_end``, then ``conference_update``,
``stage``, ``layout``, ``presentation_start`` if someone presents (and the participant may
receive it: :mod:`.presentation`), and for hosts in the main room ``breakout_begin`` + a wrapped
sync of every open breakout room.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from pexbot.emulator.media.backend import ComposingBackend
from pexbot.wire import events as wire_events

from .events import EventBus, EventChannel
from .model import Conference, Participant, Room
from .stage_views import StageViews


class RoomEvents(StageViews):
    bus: EventBus
    conferences: dict[str, Conference]
    frame_ids: itertools.count[int]

    def __init__(self) -> None:
        super().__init__()
        self.frame_ids = itertools.count(1)

    def conference_of(self, participant: Participant) -> Conference:
        return self.conferences[participant.conference_id]

    def room_of(self, participant: Participant) -> Room:
        room = self.conference_of(participant).room(participant.room_id)
        assert room is not None, "participant in a room that no longer exists"
        return room

    def wire(self, participant: Participant) -> dict[str, Any]:
        conference = self.conference_of(participant)
        room = conference.room(participant.room_id) or conference.main
        return participant.to_wire(conference.alias, room.created_at).body()

    def emit_room(
        self,
        room: Room,
        event: str,
        data: Any,
        *,
        exclude: str | None = None,
        only: Callable[[Participant], bool] | None = None,
    ) -> None:
        """Send to everyone in the room (but ``exclude``; of those, only whom ``only`` accepts);
        breakout events also reach main-room hosts, wrapped."""
        for uuid, p in list(room.participants.items()):
            if uuid != exclude and p.kind == "client" and (only is None or only(p)):
                self.bus.send(uuid, event, data)
        if room.is_breakout:
            conference = self.conferences[room.conference_id]
            wrapped = {"breakout_uuid": room.id, "event": event, "data": data}
            for host in conference.main.participants.values():
                if host.kind == "client" and host.is_host:
                    self.bus.send(host.uuid, "breakout_event", wrapped)

    def participant_updated(self, participant: Participant) -> None:
        room = self.room_of(participant)
        self.emit_room(room, "participant_update", self.wire(participant))

    def conference_updated(self, room: Room) -> None:
        conference = self.conferences[room.conference_id]
        self.emit_room(room, "conference_update", conference.status(room).body())

    def open_stream(self, participant: Participant) -> EventChannel:
        channel = self.bus.open(participant.uuid)
        conference = self.conference_of(participant)
        room = self.room_of(participant)
        self.sync_channel(channel, conference, room)
        send = self.bus.send_to
        send(channel, "stage", self._stage(room))
        layout = self._layout_for(participant, room)
        self._last_layout[participant.uuid] = layout
        send(channel, "layout", layout)
        presenter = room.participants.get(room.presenter_uuid or "")
        if (
            presenter is not None
            and presenter.uuid != participant.uuid
            and participant.rx_presentation
        ):
            send(channel, "presentation_start", self.presentation_data(presenter))
        if participant.is_host and not room.is_breakout:
            for breakout in conference.breakouts.values():
                self.announce_breakout(participant, breakout, channel)
        return channel

    def sync_channel(self, channel: EventChannel, conference: Conference, room: Room) -> None:
        send = self.bus.send_to
        send(channel, "participant_sync_begin", None)
        for p in room.participants.values():
            send(channel, "participant_create", self.wire(p))
        send(channel, "participant_sync_end", None)
        send(channel, "conference_update", conference.status(room).body())

    def resync(self, participant: Participant) -> None:
        """The participant changed room: every stream of it gets the new room's roster."""
        conference = self.conference_of(participant)
        room = self.room_of(participant)
        for channel in [c for c in self.bus.channels() if c.participant_uuid == participant.uuid]:
            self.sync_channel(channel, conference, room)
            self.bus.send_to(channel, "stage", self._stage(room))
        self._last_layout.pop(participant.uuid, None)
        if participant.previous_room_id:
            self.forget_speaker(participant, participant.previous_room_id)
        if isinstance(self.media, ComposingBackend):
            self.media.participant_moved(participant.uuid, room.id)
        self.refresh_media_views(room)

    def announce_breakout(
        self, host: Participant, breakout: Room, channel: EventChannel | None = None
    ) -> None:
        """breakout_begin + a wrapped roster sync of the breakout, for one host."""
        control = next(
            (p for p in breakout.participants.values() if p.control_of == host.uuid), None
        )
        begin = {"breakout_uuid": breakout.id, "participant_uuid": control.uuid if control else ""}
        events: list[tuple[str, Any]] = [("breakout_begin", begin)]
        wrap: list[tuple[str, Any]] = [("participant_sync_begin", None)]
        wrap += [("participant_create", self.wire(p)) for p in breakout.participants.values()]
        wrap += [("participant_sync_end", None)]
        status = self.conferences[breakout.conference_id].status(breakout).body()
        wrap += [("conference_update", status)]
        for name, data in wrap:
            events.append(
                ("breakout_event", {"breakout_uuid": breakout.id, "event": name, "data": data})
            )
        for name, data in events:
            if channel is not None:
                self.bus.send_to(channel, name, data)
            else:
                self.bus.send(host.uuid, name, data)

    def presentation_data(self, presenter: Participant) -> dict[str, Any]:
        return wire_events.PresentationStartData(
            presenter_name=presenter.display_name,
            presenter_uri=presenter.uri,
            presenter_uuid=presenter.uuid,
            source="video",
        ).body()

    def stop_presentation(self, room: Room) -> None:
        """``presentation_stop`` to those who were told of it (not the denied: they were not)."""
        presenter = room.participants.get(room.presenter_uuid or "")
        room.presenter_uuid = None
        if presenter is not None:
            presenter.is_presenting = False
            self.emit_room(room, "presentation_stop", None, exclude=presenter.uuid, only=_told)
            self.participant_updated(presenter)
        else:
            self.emit_room(room, "presentation_stop", None, only=_told)


def _told(participant: Participant) -> bool:
    return participant.rx_presentation
