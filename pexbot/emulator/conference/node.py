"""The emulated Conferencing Node: joins, leaves and tokens; its parts do the rest.

Everything here is synchronous and runs on the event loop, so each request's state change is
atomic. Time comes from injected clocks (``now``: monotonic, for tokens; ``wall``: Unix time,
for ``start_time`` and friends). Media work and timers go through :class:`.timers.Timers`.

Token rules: tokens are opaque; ``refresh_token`` issues a new one and the old one keeps
working for ``refresh_grace`` seconds (requests already in flight); a participant none of whose
tokens is valid any more is removed (``disconnect {reason: "Token expired"}`` to it,
``participant_delete`` to the others) by the sweeper. A conference whose last caller leaves
ends: its state (lock, layout, breakouts...) starts afresh; an auto-created VMR is forgotten.

The node is made of parts, each owning its state and handed only what it needs (none of them
imports the node): :class:`.registry.Registry` (where everything is),
:class:`.room_events.RoomEvents` (roster, stream sync and presentation events),
:class:`.stage_views.StageViews` (stage, layouts, the views a composing backend paints),
:class:`.presentation.PresentationMedia`, :class:`.direct_media.DirectMediaHub` and
:class:`.builtin.Builtins`. The node wires them, and keeps the methods the ``ops_*`` modules,
the HTTP layer and tests call on it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from pexbot.emulator.config import ConferenceConfig, EmulatorConfig, normalise_alias
from pexbot.emulator.media.backend import ComposingBackend, MediaBackend, PolicyBackend
from pexbot.wire import RefreshTokenResult, RequestTokenBody, RequestTokenResult, Version

from . import presentation
from .admission import admit, format_expires, new_client, present, token_result
from .builtin import Builtins
from .call_stats import StatsStore
from .direct_media import DirectMediaHub
from .events import EventBus, EventChannel
from .model import (
    INVALID_TOKEN,
    NOT_FOUND,
    Conference,
    ForbiddenError,
    NotFoundError,
    Participant,
    Role,
    Room,
    UnavailableError,
    new_uuid,
)
from .pin_guard import PinGuard
from .registry import Registry
from .room_events import RoomEvents
from .stage_views import StageViews
from .timers import Timers
from .tokens import Ticket, TicketStore, TokenStore

MAINTENANCE = "Maintenance mode"


def captions_key(participant: Participant) -> str:
    return f"{participant.uuid}:captions"


class Node:
    def __init__(
        self,
        config: EmulatorConfig,
        media: MediaBackend,
        timers: Timers,
        *,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.media = media
        self.timers = timers
        self.now = now
        self.wall = wall
        self.maintenance = False
        self.tokens = TokenStore(grace=config.refresh_grace)
        self.pin_guard = PinGuard(
            free=config.wrong_pin_free,
            window=config.wrong_pin_window,
            max_delay=config.wrong_pin_max_delay,
        )
        self.tickets = TicketStore()
        self.bus = EventBus(
            queue_size=config.event_queue_size,
            log_limit=config.traffic_limit,
            replay_limit=config.event_replay,
        )
        self.version = Version(version_id=config.version_id, pseudo_version=config.pseudo_version)
        self.released: list[tuple[str, str]] = []  # (participant uuid, reason) in order
        #: conferences by id and alias, participants by uuid (.registry)
        self.registry = Registry(config.conferences, default_vmr=config.default_vmr, wall=wall)
        #: roster fan-out, event-stream sync, presentation events (.room_events)
        self.room_events = RoomEvents(self.bus, self.registry)
        #: the stage, layouts and the views a composing backend paints (.stage_views)
        self.stage_views = StageViews(
            bus=self.bus,
            emit_room=self.room_events.emit_room,
            registry=self.registry,
            media=media,
            timers=timers,
            now=now,
            on_refresh=self._sync_room_media,
        )
        if isinstance(media, ComposingBackend):
            media.set_voice_listener(self.stage_views)
        #: direct-media conferences: legs, offer/answer brokering, the path relay
        self.direct_media = DirectMediaHub(
            self.bus,
            participants=self.participants,
            conferences=self.conferences,
            answer_timeout=config.direct_media_answer_timeout,
        )
        #: statistics POSTed by clients, by participant uuid (.call_stats)
        self.statistics = StatsStore()
        #: media backend open_call count by conference alias (0 for direct media)
        self.media_opens: Counter[str] = Counter()
        #: floor → media routers, presentation JPEGs and ``presentation_frame`` events
        self.presentation = presentation.PresentationMedia(
            bus=self.bus, media=media, timers=timers, conferences=self.conferences
        )
        #: the conferences' built-in participants and their media (.builtin)
        self.builtins = Builtins(self)

    # -- lookups (.registry) ------------------------------------------------------------------

    @property
    def conferences(self) -> dict[str, Conference]:
        return self.registry.conferences

    @property
    def participants(self) -> dict[str, Participant]:
        return self.registry.participants

    def conference_of(self, participant: Participant) -> Conference:
        return self.registry.conference_of(participant)

    def room_of(self, participant: Participant) -> Room:
        return self.registry.room_of(participant)

    def conference_by_alias(self, alias: str) -> Conference | None:
        return self.registry.by_alias(alias)

    def conference_for_alias(self, alias: str) -> Conference | None:
        """The conference an alias names; with ``default_vmr`` an unknown alias makes one."""
        return self.registry.for_alias(alias)

    # -- events and views (.room_events, .stage_views) ----------------------------------------

    def wire(self, participant: Participant) -> dict[str, Any]:
        return self.room_events.wire(participant)

    def emit_room(
        self,
        room: Room,
        event: str,
        data: Any,
        *,
        exclude: str | None = None,
        only: Callable[[Participant], bool] | None = None,
    ) -> None:
        self.room_events.emit_room(room, event, data, exclude=exclude, only=only)

    def conference_updated(self, room: Room) -> None:
        self.room_events.conference_updated(room)

    def announce_breakout(self, host: Participant, breakout: Room) -> None:
        self.room_events.announce_breakout(host, breakout)

    def participant_updated(self, participant: Participant) -> None:
        self.room_events.participant_updated(participant)
        # A mute or an rx-presentation change takes effect in the media with its event.
        self.sync_media_policy(self.room_of(participant))

    def refresh_media_views(self, room: Room) -> None:
        self.stage_views.refresh(room)  # its on_refresh then re-tells the room's media

    def voice_activity(self, room_id: str, participant_uuid: str, speaking: bool) -> None:
        self.stage_views.voice_activity(room_id, participant_uuid, speaking)

    def open_stream(self, participant: Participant, last_event_id: str = "") -> EventChannel:
        room = self.room_of(participant)
        return self.room_events.open_stream(
            participant,
            stage=self.stage_views.stage(room),
            layout=self.stage_views.stream_layout(participant, room),
            last_event_id=last_event_id,
        )

    def resync(self, participant: Participant) -> None:
        """The participant changed room: every stream of it gets the new room's roster."""
        room = self.room_of(participant)
        self.room_events.resync(participant, stage=self.stage_views.stage(room))
        self.stage_views.participant_moved(participant)
        if isinstance(self.media, ComposingBackend):
            self.media.participant_moved(participant.uuid, room.id)
        self.refresh_media_views(room)

    # -- the media that goes with the views ---------------------------------------------------

    def stop_presentation(self, room: Room) -> None:
        presentation.stop_presentation(self, room)

    def _sync_room_media(self, room: Room) -> None:
        # Routers are made with a room's first call: each refresh re-tells them the floor.
        self.presentation.sync_media(room)
        self.sync_media_policy(room)
        self.builtins.sync(room.conference_id)

    def sync_media_policy(self, room: Room) -> None:
        """Tell a policy-enforcing backend the room's mutes and presentation denials."""
        if isinstance(self.media, PolicyBackend):
            self.media.set_policy(room.id, room.media_policy())

    def _end_conference_if_empty(self, conference: Conference) -> None:
        """Infinity ends a conference when its last caller leaves; state starts afresh."""
        if any(p.kind == "client" for p in conference.participants()):
            return
        for p in conference.participants():
            self._forget(p)
        for room in conference.rooms():
            self.stage_views.forget_room(room)
        self.timers.cancel_key(conference.id)
        self.registry.end(conference)
        self.builtins.conference_ended(conference.id)

    # -- joining and leaving ------------------------------------------------------------------

    def request_token(
        self, alias: str, body: RequestTokenBody, pin: str | None, base_url: str
    ) -> RequestTokenResult:
        if self.maintenance:
            raise UnavailableError(MAINTENANCE)
        now = self.now()
        secret = present(body.token)
        room: Room | None
        if secret is not None:
            ticket = self.tickets.take(secret, now)
            if ticket is None or ticket.kind == "sso":
                raise ForbiddenError(INVALID_TOKEN)
            found = self.conferences.get(ticket.conference_id)
            if found is None:
                raise NotFoundError(NOT_FOUND)
            conference = found
            room = conference.room(ticket.breakout_uuid or conference.id) or conference.main
            role: Role = "HOST" if ticket.role == "HOST" else "GUEST"
            idp_uuid = ticket.idp_uuid
        else:
            conf = self.registry.config_for(alias)
            if conf is None:
                if not self.config.default_vmr:
                    raise NotFoundError(NOT_FOUND)
                conf = ConferenceConfig(aliases=[alias.strip()], name=alias.strip())
            sso_secret = present(body.sso_token)
            admission = admit(
                conf=conf,
                resolve=self.registry.config_for,
                conference_id_of=lambda c: self.registry.for_config(c).id,
                body=body,
                pin=pin,
                sso_ticket=self.tickets.peek(sso_secret, now) if sso_secret else None,
                base_url=base_url,
                version=self.version,
            )
            conference = self.registry.for_config(admission.conference_config)
            room, role, idp_uuid = conference.main, admission.role, admission.idp_uuid
        participant = new_client(conference, room, role, alias, body, idp_uuid, self.wall())
        lifetime = self.config.lifetime_of(conference.config)
        token = self.tokens.issue(participant.uuid, lifetime, now)
        self.add_to_room(participant, room)
        return token_result(
            conference, participant, token, lifetime, version=self.version, config=self.config
        )

    def add_to_room(self, participant: Participant, room: Room) -> None:
        if participant.kind == "client":
            self.builtins.populate(self.conference_of(participant))  # joined from the start
        participant.room_id = room.id
        room.participants[participant.uuid] = participant
        self.participants[participant.uuid] = participant
        self.emit_room(room, "participant_create", self.wire(participant), exclude=participant.uuid)
        self.refresh_media_views(room)
        if participant.kind == "client" and participant.is_host and not room.is_breakout:
            for breakout in self.conference_of(participant).breakouts.values():
                self.add_control(participant, breakout)

    def add_control(self, host: Participant, breakout: Room) -> Participant:
        """The API participant a main-room Host has in each breakout room."""
        control = Participant(
            uuid=new_uuid(),
            display_name=host.display_name,
            role="HOST",
            conference_id=host.conference_id,
            room_id=breakout.id,
            service_type=self.conference_of(host).config.service_type,
            start_time=self.wall(),
            kind="control",
            control_of=host.uuid,
        )
        breakout.participants[control.uuid] = control
        self.participants[control.uuid] = control
        self.emit_room(breakout, "participant_create", self.wire(control))
        return control

    def authenticate(self, alias: str, token: str | None) -> Participant:
        record = self.tokens.lookup(token, self.now())
        participant = self.participants.get(record.participant_uuid) if record else None
        if participant is None:
            raise ForbiddenError(INVALID_TOKEN)
        if normalise_alias(alias) != normalise_alias(participant.join_alias) and (
            not self.registry.names(alias, participant.conference_id)
        ):
            raise ForbiddenError(INVALID_TOKEN)
        return participant

    def refresh_token(self, token: str | None) -> RefreshTokenResult:
        refreshed = self.tokens.refresh(token or "", self.now()) if token else None
        if refreshed is None:
            raise ForbiddenError(INVALID_TOKEN)
        new, record = refreshed
        participant = self.participants[record.participant_uuid]
        cfg = self.conference_of(participant).config
        return RefreshTokenResult(
            token=new,
            expires=format_expires(record.lifetime),
            role=participant.role,
            client_stats_update_interval=cfg.stats_interval_ms if cfg.direct_media else None,
        )

    def release(self, participant: Participant, reason: str) -> None:
        self.released.append((participant.uuid, reason))
        self.remove(participant, reason=None)

    def remove(self, participant: Participant, *, reason: str | None) -> None:
        """Take a participant out of the conference; ``reason`` → a ``disconnect`` event first."""
        if participant.uuid not in self.participants:
            return
        conference = self.conference_of(participant)
        room = self.room_of(participant)
        if room.presenter_uuid == participant.uuid:
            self.stop_presentation(room)
        if reason is not None:
            self.bus.send(participant.uuid, "disconnect", {"reason": reason})
        self._forget(participant)
        self.emit_room(room, "participant_delete", {"uuid": participant.uuid})
        self.refresh_media_views(room)
        if participant.kind == "client" and participant.is_host:
            # A copy: removing the last control participant can end the conference, which
            # closes its breakouts while we walk them.
            for breakout in list(conference.breakouts.values()):
                for control in [
                    p for p in breakout.participants.values() if p.control_of == participant.uuid
                ]:
                    self.remove(control, reason=None)
        self._end_conference_if_empty(conference)

    def _forget(self, participant: Participant) -> None:
        for call in participant.calls.values():
            if not call.closed:
                call.closed = True
                if not self.direct_media.release(call):  # direct media: peer_disconnect
                    self.timers.spawn(self.media.close_call(call.uuid))
        self.timers.cancel_key(participant.uuid)
        self.timers.cancel_key(captions_key(participant))
        self.tokens.revoke_all(participant.uuid)
        self.bus.forget(participant.uuid, "participant left")
        self.stage_views.participant_left(participant)
        conference = self.conferences.get(participant.conference_id)
        room = conference.room(participant.room_id) if conference else None
        if room is not None:
            room.participants.pop(participant.uuid, None)
        self.participants.pop(participant.uuid, None)

    def sweep(self) -> list[str]:
        """Remove participants whose every token has expired; their uuids."""
        now = self.now()
        gone = self.tokens.expired_participants(now)
        for uuid in gone:
            participant = self.participants.get(uuid)
            if participant is None:
                self.tokens.revoke_all(uuid)
            else:
                self.remove(participant, reason="Token expired")
        self.tokens.prune(now)
        return gone

    def expire_tokens(self, participant_uuid: str | None = None) -> None:
        now = self.now()
        for uuid in [participant_uuid] if participant_uuid else list(self.participants):
            self.tokens.expire_early(uuid, now)
        self.sweep()

    # -- tickets --------------------------------------------------------------------------------

    def issue_ticket(self, ticket: Ticket) -> str:
        return self.tickets.issue(ticket, self.now())
