"""The emulated Conferencing Node: conferences, participants, tokens and the events they cause.

Everything here is synchronous and runs on the event loop, so each request's state change is
atomic. Time comes from injected clocks (``now``: monotonic, for tokens; ``wall``: Unix time,
for ``start_time`` and friends). Media work and timers go through :class:`.timers.Timers`.

Token rules: tokens are opaque; ``refresh_token`` issues a new one and the old one keeps
working for ``refresh_grace`` seconds (requests already in flight); a participant none of whose
tokens is valid any more is removed (``disconnect {reason: "Token expired"}`` to it,
``participant_delete`` to the others) by the sweeper. A conference whose last caller leaves
ends: its state (lock, layout, breakouts...) starts afresh; an auto-created VMR is forgotten.
Events are in :mod:`.room_events`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from pexbot import wire
from pexbot.emulator.config import ConferenceConfig, EmulatorConfig, normalise_alias
from pexbot.emulator.media.backend import ComposingBackend, MediaBackend, PolicyBackend

from .admission import admit, present
from .builtin import Builtins
from .call_stats import StatsStore
from .direct_media import DirectMediaHub
from .events import EventBus
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
from .presentation import PresentationMedia
from .room_events import RoomEvents
from .timers import Timers
from .tokens import Ticket, TicketStore, TokenStore

MAINTENANCE = "Maintenance mode"


def captions_key(participant: Participant) -> str:
    return f"{participant.uuid}:captions"


def format_expires(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


class Node(RoomEvents):
    def __init__(
        self,
        config: EmulatorConfig,
        media: MediaBackend,
        timers: Timers,
        *,
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.config = config
        self.media = media
        self.timers = timers
        self.now = now
        self.wall = wall
        self.maintenance = False
        self.tokens = TokenStore(grace=config.refresh_grace)
        self.tickets = TicketStore()
        self.bus = EventBus(queue_size=config.event_queue_size, log_limit=config.traffic_limit)
        self.version = wire.Version(
            version_id=config.version_id, pseudo_version=config.pseudo_version
        )
        self.conferences: dict[str, Conference] = {}
        self.participants: dict[str, Participant] = {}
        self.released: list[tuple[str, str]] = []  # (participant uuid, reason) in order
        #: direct-media conferences: legs, offer/answer brokering, the path relay
        self.direct_media = DirectMediaHub(self)
        #: statistics POSTed by clients, by participant uuid (.call_stats)
        self.statistics = StatsStore()
        #: media backend open_call count by conference alias (0 for direct media)
        self.media_opens: Counter[str] = Counter()
        self._aliases: dict[str, str] = {}
        for conf in config.conferences:
            self._create_conference(conf, auto=False)
        if isinstance(media, ComposingBackend):
            media.set_voice_listener(self)
        #: floor → media routers, presentation JPEGs and ``presentation_frame`` events
        self.presentation = PresentationMedia(self)
        #: the conferences' built-in participants and their media (.builtin)
        self.builtins = Builtins(self)

    # -- presentation (the floor rules are in .presentation) -----------------------------------

    def stop_presentation(self, room: Room) -> None:
        super().stop_presentation(room)
        self.presentation.stopped(room)

    def refresh_media_views(self, room: Room) -> None:
        super().refresh_media_views(room)
        # Routers are made with a room's first call: each refresh re-tells them the floor.
        self.presentation.sync_media(room)
        self.sync_media_policy(room)
        self.builtins.sync(room.conference_id)

    def participant_updated(self, participant: Participant) -> None:
        super().participant_updated(participant)
        # A mute or an rx-presentation change takes effect in the media with its event.
        self.sync_media_policy(self.room_of(participant))

    def sync_media_policy(self, room: Room) -> None:
        """Tell a policy-enforcing backend the room's mutes and presentation denials."""
        if isinstance(self.media, PolicyBackend):
            self.media.set_policy(room.id, room.media_policy())

    # -- conferences --------------------------------------------------------------------------

    def _create_conference(self, conf: ConferenceConfig, *, auto: bool) -> Conference:
        conference_id = new_uuid()
        conference = Conference(conference_id, conf, self._fresh_room(conference_id, conf), auto)
        self.conferences[conference_id] = conference
        for alias in conf.aliases:
            self._aliases[normalise_alias(alias)] = conference_id
        return conference

    def _fresh_room(self, conference_id: str, conf: ConferenceConfig) -> Room:
        return Room(
            id=conference_id,
            conference_id=conference_id,
            locked=conf.locked,
            guests_can_unmute=conf.guests_can_unmute,
            created_at=self.wall(),
        )

    def conference_by_alias(self, alias: str) -> Conference | None:
        conference_id = self._aliases.get(normalise_alias(alias))
        return self.conferences.get(conference_id) if conference_id else None

    def conference_for_alias(self, alias: str) -> Conference | None:
        """The conference an alias names; with ``default_vmr`` an unknown alias makes one."""
        found = self.conference_by_alias(alias)
        if found is None and self.config.default_vmr and alias.strip():
            name = alias.strip()
            found = self._create_conference(ConferenceConfig(aliases=[name], name=name), auto=True)
        return found

    def _config_for_alias(self, alias: str) -> ConferenceConfig | None:
        conference = self.conference_by_alias(alias)
        return conference.config if conference else None

    def _conference_for_config(self, conf: ConferenceConfig) -> Conference:
        conference = self.conference_by_alias(conf.aliases[0])
        if conference is None:
            conference = self._create_conference(conf, auto=True)
        return conference

    def _end_conference_if_empty(self, conference: Conference) -> None:
        """Infinity ends a conference when its last caller leaves; state starts afresh."""
        if any(p.kind == "client" for p in conference.participants()):
            return
        for p in conference.participants():
            self._forget(p)
        for room in conference.rooms():
            self.forget_room_views(room)
        self.timers.cancel_key(conference.id)
        if conference.auto:
            del self.conferences[conference.id]
            for alias in conference.config.aliases:
                self._aliases.pop(normalise_alias(alias), None)
        else:
            conference.breakouts.clear()
            conference.main = self._fresh_room(conference.id, conference.config)
        self.builtins.conference_ended(conference.id)

    # -- joining and leaving ------------------------------------------------------------------

    def request_token(
        self, alias: str, body: wire.RequestTokenBody, pin: str | None, base_url: str
    ) -> wire.RequestTokenResult:
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
            conf = self._config_for_alias(alias)
            if conf is None:
                if not self.config.default_vmr:
                    raise NotFoundError(NOT_FOUND)
                conf = ConferenceConfig(aliases=[alias.strip()], name=alias.strip())
            sso_secret = present(body.sso_token)
            admission = admit(
                conf=conf,
                resolve=self._config_for_alias,
                conference_id_of=lambda c: self._conference_for_config(c).id,
                body=body,
                pin=pin,
                sso_ticket=self.tickets.peek(sso_secret, now) if sso_secret else None,
                base_url=base_url,
                version=self.version,
            )
            conference = self._conference_for_config(admission.conference_config)
            room, role, idp_uuid = conference.main, admission.role, admission.idp_uuid
        participant = self._new_client(conference, room, role, alias, body, idp_uuid)
        lifetime = self.config.lifetime_of(conference.config)
        token = self.tokens.issue(participant.uuid, lifetime, now)
        self.add_to_room(participant, room)
        return self._token_result(conference, participant, token, lifetime)

    def _new_client(
        self,
        conference: Conference,
        room: Room,
        role: Role,
        alias: str,
        body: wire.RequestTokenBody,
        idp_uuid: str | None,
    ) -> Participant:
        participant = Participant(
            uuid=new_uuid(),
            display_name=body.display_name,
            role=role,
            conference_id=conference.id,
            room_id=room.id,
            service_type=self.service_type_for(conference, room, role),
            start_time=self.wall(),
            join_alias=alias,
            call_tag=body.call_tag or "",
            supports_direct_chat=bool(body.supports_direct_chat),
            idp_uuid=idp_uuid,
            vendor="pexbot-emulator client",
        )
        if role == "GUEST" and room.guests_muted:
            participant.is_muted = participant.muted_by_host = True
        return participant

    def service_type_for(self, conference: Conference, room: Room, role: Role) -> str:
        if role == "GUEST" and (room.locked or not room.started):
            return "waiting_room"
        return conference.config.service_type

    def _token_result(
        self, conference: Conference, p: Participant, token: str, lifetime: float
    ) -> wire.RequestTokenResult:
        cfg = conference.config
        return wire.RequestTokenResult(
            token=token,
            expires=format_expires(lifetime),
            participant_uuid=p.uuid,
            display_name=p.display_name,
            role=p.role,
            version=self.version,
            current_service_type=p.service_type,  # type: ignore[arg-type]
            service_type=cfg.service_type,
            conference_name=conference.name,
            call_tag=p.call_tag,
            call_type=cfg.call_type,
            allow_1080p=True,
            analytics_enabled=False,
            chat_enabled=cfg.chat_enabled,
            fecc_enabled=False,
            rtmp_enabled=False,
            guests_can_present=cfg.guests_can_present,
            vp9_enabled=False,
            trickle_ice_enabled=True,
            direct_media=cfg.direct_media,
            use_relay_candidates_only=False,
            pex_datachannel_id=1 if cfg.direct_media else None,
            client_stats_update_interval=cfg.stats_interval_ms if cfg.direct_media else None,
            breakout_rooms=cfg.breakout_rooms,
            idp_uuid=p.idp_uuid,
            # An empty list breaks Chromium (official-client-flow §18): omit instead.
            stun=[wire.StunServer(url=u) for u in self.config.stun] or None,
            turn=[wire.TurnServer(**t.model_dump()) for t in self.config.turn] or None,
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
        key = normalise_alias(alias)
        if key != normalise_alias(participant.join_alias) and (
            self._aliases.get(key) != participant.conference_id
        ):
            raise ForbiddenError(INVALID_TOKEN)
        return participant

    def refresh_token(self, token: str | None) -> wire.RefreshTokenResult:
        refreshed = self.tokens.refresh(token or "", self.now()) if token else None
        if refreshed is None:
            raise ForbiddenError(INVALID_TOKEN)
        new, record = refreshed
        participant = self.participants[record.participant_uuid]
        cfg = self.conference_of(participant).config
        return wire.RefreshTokenResult(
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
        self.bus.close_participant(participant.uuid, "participant left")
        self._last_layout.pop(participant.uuid, None)
        self.forget_speaker(participant)
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
