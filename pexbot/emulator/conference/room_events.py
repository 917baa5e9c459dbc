"""Room-wide events of the node: roster fan-out, stream sync, presentation (stage and layout
are in :mod:`.stage_views`).

:class:`RoomEvents` turns state changes into events; it changes no state itself. Event order on
a new event stream (one that does not resume an old one): ``participant_sync_begin``, one
``participant_create`` per participant in the room (self included), ``participant_sync_end``,
then ``conference_update``, ``stage``, ``layout``, ``presentation_start`` if someone presents
(and the participant may receive it: :mod:`.presentation`), and for hosts in the main room
``breakout_begin`` + a wrapped sync of every open breakout room.

Events of a breakout room also reach the main room's hosts, wrapped in ``breakout_event``:
that is how a host's client follows rooms it is not in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pexbot.wire import events as wire_events

from .events import EventBus, EventChannel
from .model import Conference, Participant, Room
from .registry import Registry


def presentation_data(presenter: Participant) -> dict[str, Any]:
    return wire_events.PresentationStartData(
        presenter_name=presenter.display_name,
        presenter_uri=presenter.uri,
        presenter_uuid=presenter.uuid,
        source="video",
    ).body()


def _told(participant: Participant) -> bool:
    """Whether ``participant`` hears of presentations (``rx_presentation_policy``)."""
    return participant.rx_presentation


class RoomEvents:
    def __init__(self, bus: EventBus, registry: Registry) -> None:
        self._bus = bus
        self._registry = registry

    def wire(self, participant: Participant) -> dict[str, Any]:
        """The participant resource, as ``participant_create`` / ``_update`` carry it."""
        conference = self._registry.conference_of(participant)
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
                self._bus.send(uuid, event, data)
        if room.is_breakout:
            conference = self._registry.conferences[room.conference_id]
            wrapped = {"breakout_uuid": room.id, "event": event, "data": data}
            for host in conference.main.participants.values():
                if host.kind == "client" and host.is_host:
                    self._bus.send(host.uuid, "breakout_event", wrapped)

    def participant_updated(self, participant: Participant) -> None:
        room = self._registry.room_of(participant)
        self.emit_room(room, "participant_update", self.wire(participant))

    def conference_updated(self, room: Room) -> None:
        conference = self._registry.conferences[room.conference_id]
        self.emit_room(room, "conference_update", conference.status(room).body())

    # -- event streams --------------------------------------------------------------------------

    def open_stream(
        self,
        participant: Participant,
        *,
        stage: list[dict[str, Any]],
        layout: dict[str, Any],
        last_event_id: str = "",
    ) -> EventChannel:
        """A new event stream of ``participant``, its opening events queued; ``stage`` and
        ``layout`` are what :mod:`.stage_views` shows it now. A ``last_event_id`` its stream
        can continue from gets what followed it instead (:mod:`.events`): no re-sync."""
        channel, resumed = self._bus.open(participant.uuid, last_event_id)
        if resumed:
            return channel
        conference = self._registry.conference_of(participant)
        room = self._registry.room_of(participant)
        self.sync_channel(channel, conference, room)
        send = self._bus.send_to
        send(channel, "stage", stage)
        send(channel, "layout", layout)
        presenter = room.participants.get(room.presenter_uuid or "")
        if (
            presenter is not None
            and presenter.uuid != participant.uuid
            and participant.rx_presentation
        ):
            send(channel, "presentation_start", presentation_data(presenter))
        if participant.is_host and not room.is_breakout:
            for breakout in conference.breakouts.values():
                self.announce_breakout(participant, breakout, channel)
        return channel

    def sync_channel(self, channel: EventChannel, conference: Conference, room: Room) -> None:
        send = self._bus.send_to
        send(channel, "participant_sync_begin", None)
        for p in room.participants.values():
            send(channel, "participant_create", self.wire(p))
        send(channel, "participant_sync_end", None)
        send(channel, "conference_update", conference.status(room).body())

    def resync(self, participant: Participant, *, stage: list[dict[str, Any]]) -> None:
        """The participant changed room: every stream of it gets the new room's roster and
        ``stage``."""
        conference = self._registry.conference_of(participant)
        room = self._registry.room_of(participant)
        # On the participant's streams, not its connections: a stream that is down for the
        # moment logs the sync too, so a reconnect that resumes it gets the new room.
        send = self._bus.send
        send(participant.uuid, "participant_sync_begin", None)
        for p in room.participants.values():
            send(participant.uuid, "participant_create", self.wire(p))
        send(participant.uuid, "participant_sync_end", None)
        send(participant.uuid, "conference_update", conference.status(room).body())
        send(participant.uuid, "stage", stage)

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
        status = self._registry.conferences[breakout.conference_id].status(breakout).body()
        wrap += [("conference_update", status)]
        for name, data in wrap:
            events.append(
                ("breakout_event", {"breakout_uuid": breakout.id, "event": name, "data": data})
            )
        for name, data in events:
            if channel is not None:
                self._bus.send_to(channel, name, data)
            else:
                self._bus.send(host.uuid, name, data)

    # -- presentation (the floor rules are in .presentation) ----------------------------------

    def presentation_started(
        self, room: Room, presenter: Participant, previous: Participant | None
    ) -> None:
        """``presentation_start`` to the room but the presenter and those denied it. A previous
        presenter is told even if denied, as that is how a client learns it lost the floor,
        and then at once ``presentation_stop``: it is sent no slides."""
        self.emit_room(
            room,
            "presentation_start",
            presentation_data(presenter),
            exclude=presenter.uuid,
            only=lambda other: other.rx_presentation or other is previous,
        )
        if previous is not None and not previous.rx_presentation and previous.kind == "client":
            self._bus.send(previous.uuid, "presentation_stop", None)

    def presentation_stopped(self, room: Room, presenter: Participant | None) -> None:
        """``presentation_stop`` to those who were told of it (not the denied: they were not)."""
        self.emit_room(
            room,
            "presentation_stop",
            None,
            exclude=presenter.uuid if presenter is not None else None,
            only=_told,
        )

    def reception_changed(self, participant: Participant, presenter: Participant) -> None:
        """``participant`` may receive the running presentation now, or may no longer."""
        if participant.kind != "client":
            return
        if participant.rx_presentation:
            self._bus.send(participant.uuid, "presentation_start", presentation_data(presenter))
        else:
            self._bus.send(participant.uuid, "presentation_stop", None)
