"""The node's parts on their own, without a node or an emulator: each is built with a real
EventBus, a real Registry and small fakes, and checked by the events it sends."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import pytest

from pexbot import wire
from pexbot.emulator.conference import presentation
from pexbot.emulator.conference.builtin import DEFAULT_FIRST_FRAME, Builtins
from pexbot.emulator.conference.direct_media import WAITING_FOR_HOST, WELCOME, DirectMediaHub
from pexbot.emulator.conference.events import EventBus
from pexbot.emulator.conference.model import (
    Call,
    Conference,
    ForbiddenError,
    Participant,
    Role,
    Room,
    new_uuid,
)
from pexbot.emulator.conference.registry import Registry
from pexbot.emulator.conference.room_events import RoomEvents
from pexbot.emulator.conference.stage_views import STAGE_INTERVAL, StageViews, stage_key
from pexbot.emulator.conference.timers import Timers
from pexbot.emulator.config import BuiltinParticipant, ConferenceConfig
from pexbot.emulator.media.backend import MediaBackend, MediaView, NullMediaBackend

# -- fakes ---------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class ManualTimers(Timers):
    """Timers that run only when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[float, Callable[[], object], str | None]] = []
        self.cancelled: list[str] = []

    def call_later(
        self, delay: float, callback: Callable[[], object], *, key: str | None = None
    ) -> None:
        self.pending.append((delay, callback, key))

    def spawn(self, coro: Coroutine[Any, Any, None], *, key: str | None = None) -> None:
        coro.close()

    def cancel_key(self, key: str) -> None:
        self.cancelled.append(key)
        self.pending = [p for p in self.pending if p[2] != key]

    def fire(self) -> None:
        due, self.pending = self.pending, []
        for _, callback, _ in due:
            callback()


class ViewsBackend(NullMediaBackend):
    """A signalling-only backend that records what a composing backend would paint."""

    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, dict[str, MediaView]] = {}

    def set_views(self, room_id: str, views: Mapping[str, MediaView]) -> None:
        self.views[room_id] = dict(views)

    def set_voice_listener(self, listener: Any) -> None:
        pass

    def participant_moved(self, participant_uuid: str, room_id: str) -> None:
        pass


def new_registry(**conf: Any) -> tuple[Registry, Conference]:
    registry = Registry(
        [ConferenceConfig(aliases=["meet"], **conf)], default_vmr=False, wall=lambda: 0.0
    )
    conference = registry.by_alias("meet")
    assert conference is not None
    return registry, conference


def enter(
    registry: Registry,
    room: Room,
    name: str,
    *,
    role: Role = "GUEST",
    media: bool = True,
    kind: Any = "client",
) -> Participant:
    p = Participant(
        uuid=f"{name}-{new_uuid()[:8]}",
        display_name=name,
        role=role,
        conference_id=room.conference_id,
        room_id=room.id,
        service_type="conference",
        start_time=len(registry.participants),  # join order
        kind=kind,
        has_media_override=media,
    )
    room.participants[p.uuid] = p
    registry.participants[p.uuid] = p
    return p


def sent(bus: EventBus, event: str, to: Participant | None = None) -> list[Any]:
    """The data of every ``event`` sent (to ``to``), oldest first."""
    return [
        e.data
        for e in bus.log
        if e.event == event and (to is None or e.participant_uuid == to.uuid)
    ]


def receivers(bus: EventBus, event: str) -> list[str]:
    return [e.participant_uuid for e in bus.log if e.event == event]


def uuids(*people: Participant) -> list[str]:
    return [p.uuid for p in people]


class Views:
    """A StageViews with the room-events fan-out, a composing backend and manual time."""

    def __init__(self) -> None:
        self.registry, self.conference = new_registry()
        self.room = self.conference.main
        self.bus = EventBus(queue_size=100, log_limit=1000)
        self.backend = ViewsBackend()
        self.timers = ManualTimers()
        self.clock = Clock()
        self.refreshed: list[str] = []
        self.views = StageViews(
            bus=self.bus,
            emit_room=RoomEvents(self.bus, self.registry).emit_room,
            registry=self.registry,
            media=self.backend,
            timers=self.timers,
            now=self.clock,
            on_refresh=lambda room: self.refreshed.append(room.id),
        )


# -- the registry -------------------------------------------------------------------------------


def test_registry_resolves_aliases_and_ends_conferences_as_configured_or_forgotten() -> None:
    registry = Registry(
        [ConferenceConfig(aliases=["Meet", "meet2"], locked=True)],
        default_vmr=True,
        wall=lambda: 7.0,
    )
    meet = registry.by_alias("  MEET ")
    assert meet is not None and registry.by_alias("meet2") is meet
    assert registry.names("meet2", meet.id) and not registry.names("other", meet.id)
    assert registry.by_alias("new") is None  # only for_alias makes one
    made = registry.for_alias("new")
    assert made is not None and made.auto and registry.by_alias("new") is made
    meet.breakouts["b"] = Room(id="b", conference_id=meet.id, is_breakout=True)
    old_main = meet.main
    old_main.locked = False
    registry.end(meet)
    assert registry.by_alias("meet") is meet and not meet.breakouts
    assert meet.main is not old_main and meet.main.locked and meet.main.created_at == 7.0
    registry.end(made)
    assert registry.by_alias("new") is None and made.id not in registry.conferences


# -- stage views --------------------------------------------------------------------------------


def test_a_stage_change_emits_stage_to_the_room_and_layout_to_whoever_it_changed() -> None:
    v = Views()
    a = enter(v.registry, v.room, "a", role="HOST")
    b = enter(v.registry, v.room, "b")
    c = enter(v.registry, v.room, "c")
    api = enter(v.registry, v.room, "api", media=False)
    v.views.refresh(v.room)
    stage = [e["participant_uuid"] for e in sent(v.bus, "stage", a)[-1]]
    assert stage == uuids(a, b, c)  # join order, the API participant not on it
    assert sorted(receivers(v.bus, "stage")) == sorted(uuids(a, b, c, api))
    assert sent(v.bus, "layout", a)[-1]["participants"] == uuids(b, c)
    assert sent(v.bus, "layout", api)[-1]["participants"] == []  # shown nothing (spec)
    assert v.backend.views[v.room.id] == {
        a.uuid: MediaView("1:7", (b.uuid, c.uuid)),
        b.uuid: MediaView("1:7", (a.uuid, c.uuid)),
        c.uuid: MediaView("1:7", (a.uuid, b.uuid)),
    }
    assert v.refreshed == [v.room.id]

    # nothing changed: no events, but the media is told again
    count = len(v.bus.log)
    v.views.refresh(v.room)
    assert len(v.bus.log) == count and v.refreshed == [v.room.id] * 2

    # c spotlighted: on the stage first; a's and b's layouts change (c's does not: it is not
    # shown itself, and the API participant is shown nobody)
    c.spotlight = 5.0
    v.views.refresh(v.room)
    new = list(v.bus.log)[count:]
    assert [e["participant_uuid"] for e in sent(v.bus, "stage", b)[-1]] == uuids(c, a, b)
    assert sorted(e.participant_uuid for e in new if e.event == "layout") == sorted(uuids(a, b))
    assert sent(v.bus, "layout", a)[-1]["participants"] == uuids(c, b)
    assert sent(v.bus, "layout", b)[-1]["participants"] == uuids(c, a)


def test_voice_changes_are_published_at_most_every_interval() -> None:
    v = Views()
    a, b, c = (enter(v.registry, v.room, n) for n in "abc")
    v.views.refresh(v.room)
    stages = len(sent(v.bus, "stage", a))
    v.clock.t += STAGE_INTERVAL / 5
    v.views.voice_activity(v.room.id, c.uuid, True)
    v.views.voice_activity(v.room.id, b.uuid, True)
    assert len(sent(v.bus, "stage", a)) == stages  # too soon: a timer will publish
    assert [(round(d, 6), k) for d, _, k in v.timers.pending] == [
        (round(STAGE_INTERVAL * 4 / 5, 6), stage_key(v.room.id))
    ]
    v.clock.t += STAGE_INTERVAL
    v.timers.fire()
    stage = sent(v.bus, "stage", a)[-1]
    assert len(sent(v.bus, "stage", a)) == stages + 1  # both voices in one event
    assert [(e["participant_uuid"], e["vad"]) for e in stage] == [
        (c.uuid, 100),
        (b.uuid, 100),
        (a.uuid, 0),
    ]
    assert v.backend.views[v.room.id][a.uuid] == MediaView("1:7", (c.uuid, b.uuid))
    # long enough since the last publication: at once
    v.clock.t += STAGE_INTERVAL
    v.views.voice_activity(v.room.id, c.uuid, False)
    assert len(sent(v.bus, "stage", a)) == stages + 2 and not v.timers.pending
    # voice of someone gone, or heard in a room it has left, changes nothing
    v.registry.participants.pop(b.uuid)
    v.clock.t += STAGE_INTERVAL
    v.views.voice_activity(v.room.id, b.uuid, False)
    v.views.voice_activity("elsewhere", a.uuid, True)
    assert len(sent(v.bus, "stage", a)) == stages + 2


def test_a_new_stream_or_a_move_resets_what_the_participant_was_last_told() -> None:
    v = Views()
    a, b = (enter(v.registry, v.room, n) for n in "ab")
    layout = v.views.stream_layout(a, v.room)
    assert layout["participants"] == uuids(b) and v.views.last_layout(a.uuid) == layout
    v.views.refresh(v.room)
    assert sent(v.bus, "layout", a) == []  # the stream already opened with it
    v.views.participant_moved(a)
    assert v.views.last_layout(a.uuid) is None
    v.views.refresh(v.room)
    assert sent(v.bus, "layout", a) == [layout]
    v.views.forget_room(v.room)
    assert stage_key(v.room.id) in v.timers.cancelled


# -- room events --------------------------------------------------------------------------------


class Room4:
    """A host presenter-to-be, an allowed guest, a denied guest and a built-in."""

    def __init__(self) -> None:
        self.registry, self.conference = new_registry(breakout_rooms=True, guests_can_present=False)
        self.room = self.conference.main
        self.bus = EventBus(queue_size=100, log_limit=1000)
        self.events = RoomEvents(self.bus, self.registry)
        self.host = enter(self.registry, self.room, "host", role="HOST")
        self.allowed = enter(self.registry, self.room, "allowed")
        self.denied = enter(self.registry, self.room, "denied")
        self.denied.rx_presentation = False
        self.builtin = enter(self.registry, self.room, "builtin", kind="builtin")


def test_a_presentation_start_reaches_everybody_but_the_presenter_and_the_denied() -> None:
    r = Room4()
    r.events.presentation_started(r.room, r.host, None)
    assert receivers(r.bus, "presentation_start") == [r.allowed.uuid]
    start = sent(r.bus, "presentation_start")[0]
    assert start["presenter_uuid"] == r.host.uuid and start["presenter_name"] == "host"
    r.events.presentation_stopped(r.room, r.host)
    assert receivers(r.bus, "presentation_stop") == [r.allowed.uuid]


def test_a_denied_presenter_losing_the_floor_is_told_of_the_new_one_then_stopped() -> None:
    r = Room4()
    r.events.presentation_started(r.room, r.host, r.denied)
    assert sorted(receivers(r.bus, "presentation_start")) == sorted(uuids(r.allowed, r.denied))
    to_denied = [e.event for e in r.bus.log if e.participant_uuid == r.denied.uuid]
    assert to_denied == ["presentation_start", "presentation_stop"]


def test_reception_changes_start_or_stop_one_participant_and_never_a_builtin() -> None:
    r = Room4()
    r.denied.rx_presentation = True
    r.events.reception_changed(r.denied, r.host)
    r.allowed.rx_presentation = False
    r.events.reception_changed(r.allowed, r.host)
    r.events.reception_changed(r.builtin, r.host)
    assert [(e.participant_uuid, e.event) for e in r.bus.log] == [
        (r.denied.uuid, "presentation_start"),
        (r.allowed.uuid, "presentation_stop"),
    ]


def test_breakout_events_reach_main_room_hosts_wrapped() -> None:
    r = Room4()
    breakout = Room(id="bo", conference_id=r.conference.id, is_breakout=True, name="B")
    r.conference.breakouts[breakout.id] = breakout
    inside = enter(r.registry, breakout, "inside")
    r.events.emit_room(breakout, "message_received", {"payload": "hi"})
    assert [(e.participant_uuid, e.event) for e in r.bus.log] == [
        (inside.uuid, "message_received"),
        (r.host.uuid, "breakout_event"),
    ]
    assert r.bus.log[-1].data == {
        "breakout_uuid": "bo",
        "event": "message_received",
        "data": {"payload": "hi"},
    }


def test_a_new_stream_opens_with_roster_status_stage_layout_presentation_and_breakouts() -> None:
    r = Room4()
    r.room.presenter_uuid = r.allowed.uuid
    breakout = Room(id="bo", conference_id=r.conference.id, is_breakout=True)
    r.conference.breakouts[breakout.id] = breakout
    channel = r.events.open_stream(r.host, stage=[], layout={"view": "1:7"})
    assert channel.participant_uuid == r.host.uuid and r.bus.connected(r.host.uuid) == 1
    events = [e.event for e in r.bus.log]
    assert events == [
        "participant_sync_begin",
        *["participant_create"] * 4,
        "participant_sync_end",
        "conference_update",
        "stage",
        "layout",
        "presentation_start",
        "breakout_begin",
        *["breakout_event"] * 3,  # the breakout's (empty) roster sync and status
    ]
    r.bus.log.clear()
    r.events.open_stream(r.denied, stage=[], layout={})  # denied, not a host: neither
    assert "presentation_start" not in [e.event for e in r.bus.log]
    assert "breakout_begin" not in [e.event for e in r.bus.log]


# -- the floor, with a host that is not a node -----------------------------------------------------


class FloorNode:
    """Just what :class:`.presentation.FloorHost` asks for."""

    def __init__(self, r: Room4) -> None:
        self.r = r
        self.conferences = r.registry.conferences
        self.room_events = r.events
        self.presentation = presentation.PresentationMedia(
            bus=r.bus, media=NullMediaBackend(), timers=Timers(), conferences=self.conferences
        )
        self.updated: list[str] = []

    def room_of(self, participant: Participant) -> Room:
        return self.r.registry.room_of(participant)

    def participant_updated(self, participant: Participant) -> None:
        self.updated.append(participant.uuid)
        self.r.events.participant_updated(participant)


def test_the_floor_rules_need_only_what_floor_host_names() -> None:
    r = Room4()
    node = FloorNode(r)
    with pytest.raises(ForbiddenError):
        presentation.take_floor(node, r.room, r.allowed)  # guests may not present here
    presentation.take_floor(node, r.room, r.host)
    assert r.room.presenter_uuid == r.host.uuid and r.host.is_presenting
    assert receivers(r.bus, "presentation_start") == [r.allowed.uuid]
    # no picture behind a signalling-only backend: one frame at once, with an SSE id
    frames = [e for e in r.bus.log if e.event == "presentation_frame"]
    assert [(e.participant_uuid, e.id) for e in frames] == [(r.allowed.uuid, "1")]
    presentation.release_floor(node, r.room, r.allowed)  # not the presenter: nothing
    assert r.room.presenter_uuid == r.host.uuid
    presentation.release_floor(node, r.room, r.host)
    assert r.room.presenter_uuid is None and not r.host.is_presenting
    assert receivers(r.bus, "presentation_stop") == [r.allowed.uuid]
    assert node.updated == [r.host.uuid, r.host.uuid]


# -- built-ins and direct media, with small hosts -------------------------------------------------


class BuiltinsNode:
    def __init__(self) -> None:
        spec = BuiltinParticipant(display_name="Pattern")
        self.registry, self.conference = new_registry(builtin_participants=[spec])
        self.media: MediaBackend = NullMediaBackend()
        self.timers = Timers()
        self.conferences = self.registry.conferences
        self.participants = self.registry.participants
        self.joined: list[Participant] = []

    def wall(self) -> float:
        return 42.0

    def add_to_room(self, participant: Participant, room: Room) -> None:
        self.joined.append(participant)
        room.participants[participant.uuid] = participant
        self.participants[participant.uuid] = participant


def test_builtins_join_once_per_conference_run_and_are_new_the_next() -> None:
    node = BuiltinsNode()
    builtins = Builtins(node)
    (first,) = builtins.populate(node.conference)
    assert node.joined == [first] and first.kind == "builtin" and first.start_time == 42.0
    assert builtins.first_frame_of(first.uuid) == DEFAULT_FIRST_FRAME
    assert builtins.populate(node.conference) == []  # already in this run
    node.conference.main.participants.clear()
    node.participants.clear()
    builtins.conference_ended(node.conference.id)
    assert builtins.first_frame_of(first.uuid) is None
    (second,) = builtins.populate(node.conference)
    assert second.uuid != first.uuid and builtins.running() == {}  # no media: roster only


async def test_direct_media_splash_depends_on_whether_a_host_is_there() -> None:
    registry, conference = new_registry(direct_media=True)
    bus = EventBus(queue_size=100, log_limit=1000)
    hub = DirectMediaHub(
        bus,
        participants=registry.participants,
        conferences=registry.conferences,
        answer_timeout=1.0,
    )
    guest = enter(registry, conference.main, "guest")
    call = Call(new_uuid(), guest.uuid, "video", None, "v=0")
    result = await hub.open(conference, guest, call, wire.CallsBody(sdp="v=0"))
    assert result.offer_ignored and result.sdp == ""
    assert sent(bus, "splash_screen", guest) == [{"screen_key": WAITING_FOR_HOST}]
    host = enter(registry, conference.main, "host", role="HOST")
    assert hub.release(call)
    host_call = Call(new_uuid(), host.uuid, "video", None, "v=0")
    await hub.open(conference, host, host_call, wire.CallsBody(sdp="v=0"))
    assert sent(bus, "splash_screen", host) == [{"screen_key": WELCOME}]
    assert [leg.participant_uuid for leg in hub.legs(conference.id)] == [host.uuid]
    hub.close()
