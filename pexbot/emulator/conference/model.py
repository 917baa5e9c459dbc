"""Domain state of the emulated node: conferences, rooms, participants, calls.

A :class:`Conference` has one main :class:`Room` and any number of breakout rooms; every
participant is in exactly one room at a time. These are plain data holders; the rules that
change them live in :mod:`.node` and the ``ops_*`` modules.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any, Literal

from pexbot import wire
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.backend import MediaPolicy
from pexbot.errors import PexbotError

Role = Literal["HOST", "GUEST"]
ParticipantKind = Literal["client", "dialout", "control", "builtin"]  # builtin: .builtin


def new_uuid() -> str:
    return str(uuidlib.uuid4())


# -- refusals: what a request gets instead of a result -----------------------------------------


class ApiRefusal(PexbotError):
    """The node refuses a request: ``http_status`` with ``{"status", "result"}``."""

    http_status = 400

    def __init__(self, result: Any, *, http_status: int | None = None, status: str = "failed"):
        self.result = result
        self.status = status
        if http_status is not None:
            self.http_status = http_status
        super().__init__(f"HTTP {self.http_status}: {result}")


class BadRequestError(ApiRefusal):
    http_status = 400


class ForbiddenError(ApiRefusal):
    http_status = 403


class NotFoundError(ApiRefusal):
    http_status = 404


class UnavailableError(ApiRefusal):
    http_status = 503


INVALID_TOKEN = "Invalid token"
NOT_FOUND = "Neither conference nor gateway found"


# -- calls and participants ---------------------------------------------------------------------


@dataclass
class Call:
    uuid: str
    participant_uuid: str
    media_type: str
    present: str | None
    offer_sdp: str
    answer_sdp: str = ""
    acked: bool = False
    closed: bool = False
    remote_candidates: list[wire.NewCandidateBody] = field(default_factory=list)
    dtmf: list[str] = field(default_factory=list)
    fecc: list[dict[str, Any]] = field(default_factory=list)
    statistics: dict[str, Any] | None = None


@dataclass
class Participant:
    uuid: str
    display_name: str
    role: Role
    conference_id: str
    room_id: str
    service_type: str
    start_time: float
    kind: ParticipantKind = "client"
    join_alias: str = ""
    call_tag: str = ""
    protocol: str = "api"
    call_direction: Literal["in", "out"] = "in"
    uri: str = ""
    vendor: str = ""
    is_muted: bool = False
    muted_by_host: bool = False
    is_video_muted: bool = False
    is_client_muted: bool = False
    buzz_time: float = 0
    spotlight: float = 0
    overlay_text: str = ""
    rx_presentation: bool = True
    is_presenting: bool = False
    show_live_captions: bool = False
    layout_group: str | None = None
    send_to_audio_mixes: list[wire.AudioMix] = field(
        default_factory=lambda: [wire.AudioMix(mix_name="main")]
    )
    receive_from_audio_mix: str | None = "main"
    needs_presentation_in_mix: bool = False
    preferred_aspect_ratio: float | None = None
    audio_only: bool = False
    has_media_override: bool | None = None  # dial-outs have media without a /calls call
    supports_direct_chat: bool = False
    idp_uuid: str | None = None
    previous_room_id: str | None = None
    control_of: str | None = None  # control participants: the host they act for
    calls: dict[str, Call] = field(default_factory=dict)
    last_notified_afk: float = 0
    dtmf_received: list[str] = field(default_factory=list)
    fecc_received: list[dict[str, Any]] = field(default_factory=list)
    statistics: dict[str, Any] | None = None

    @property
    def is_host(self) -> bool:
        return self.role == "HOST"

    @property
    def has_media(self) -> bool:
        if self.has_media_override is not None:
            return self.has_media_override
        return any(not c.closed and c.present != "send" for c in self.calls.values())

    @property
    def admitted(self) -> bool:
        """In the conference proper (not dialling, not in the waiting room)."""
        return self.service_type not in ("connecting", "waiting_room", "ivr")

    def to_wire(self, local_alias: str, mix_timestamp: float) -> wire.Participant:
        return wire.Participant(
            uuid=self.uuid,
            display_name=self.display_name,
            buzz_time=self.buzz_time,
            call_direction=self.call_direction,
            call_tag=self.call_tag,
            disconnect_supported="YES",
            encryption="On",
            fecc_supported="NO",
            has_media=self.has_media,
            is_audio_only_call="YES" if self.audio_only else "NO",
            is_client_muted=self.is_client_muted,
            is_conjoined=self.kind == "control",
            is_external=False,
            is_idp_authenticated=self.idp_uuid is not None,
            is_main_video_dropped_out=False,
            is_muted="YES" if self.is_muted else "NO",
            is_presenting="YES" if self.is_presenting else "NO",
            is_streaming_conference=False,
            is_video_call="NO" if self.audio_only else "YES",
            is_video_muted=self.is_video_muted,
            is_video_silent=False,
            layout_group=self.layout_group or "",
            local_alias=local_alias,
            mute_supported="YES",
            needs_presentation_in_mix=self.needs_presentation_in_mix,
            overlay_text=self.overlay_text or self.display_name,
            presentation_supported="YES" if self.kind == "client" else "NO",
            protocol=self.protocol,
            receive_from_audio_mix=self.receive_from_audio_mix or "",
            role="chair" if self.is_host else "guest",
            rx_presentation_policy="ALLOW" if self.rx_presentation else "DENY",
            send_to_audio_mixes=list(self.send_to_audio_mixes),
            service_type=self.service_type,
            show_live_captions=self.show_live_captions,
            spotlight=self.spotlight,
            start_time=self.start_time,
            supports_direct_chat=self.supports_direct_chat,
            transfer_supported="YES",
            uri=self.uri,
            vendor=self.vendor,
            can_receive_personal_mix=False,
            receive_from_video_mix=wire.PersonalMix(mix_name="main", timestamp=mix_timestamp),
        )


# -- rooms and conferences ----------------------------------------------------------------------


@dataclass
class Room:
    id: str
    conference_id: str
    locked: bool = False
    started: bool = True
    guests_muted: bool = False
    guests_can_unmute: bool = True
    presentation_allowed: bool = True
    participants: dict[str, Participant] = field(default_factory=dict)
    layout: str = "1:7"
    transforms: dict[str, Any] = field(default_factory=dict)
    message_text: str = ""
    message_set_time: float | None = None
    classification: int | None = None
    pinning_config: str = ""
    presenter_uuid: str | None = None
    video_mixes: dict[str, dict[str, Any]] = field(default_factory=dict)
    silent_video: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0
    # breakout rooms only
    is_breakout: bool = False
    name: str = ""
    description: str = ""
    end_action: Literal["transfer", "disconnect"] = "transfer"
    end_time: float | None = None
    guests_allowed_to_leave: bool = False
    breakoutbuzz: dict[str, Any] | None = None

    def media_participants(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.admitted and p.has_media]

    def media_policy(self) -> MediaPolicy:
        """What the participants' mute and presentation policy ask of the room's media."""
        people = self.participants.values()
        return MediaPolicy(
            audio_muted=frozenset(p.uuid for p in people if p.is_muted),
            slides_denied=frozenset(p.uuid for p in people if not p.rx_presentation),
        )


@dataclass
class Conference:
    id: str
    config: ConferenceConfig
    main: Room
    auto: bool = False  # created on demand for an unknown alias (default_vmr)
    breakouts: dict[str, Room] = field(default_factory=dict)

    @property
    def alias(self) -> str:
        return self.config.aliases[0]

    @property
    def name(self) -> str:
        return self.config.display_name

    def rooms(self) -> list[Room]:
        return [self.main, *self.breakouts.values()]

    def room(self, room_id: str) -> Room | None:
        if room_id == self.main.id:
            return self.main
        return self.breakouts.get(room_id)

    def participants(self) -> list[Participant]:
        return [p for room in self.rooms() for p in room.participants.values()]

    def find(self, participant_uuid: str) -> Participant | None:
        for room in self.rooms():
            found = room.participants.get(participant_uuid)
            if found is not None:
                return found
        return None

    def status(self, room: Room) -> wire.ConferenceStatus:
        cfg = self.config
        status = wire.ConferenceStatus(
            locked=room.locked,
            guests_muted=room.guests_muted,
            started=room.started,
            all_muted=False,
            presentation_allowed=room.presentation_allowed,
            live_captions_available=cfg.live_captions,
            direct_media=cfg.direct_media,
            breakout_rooms=cfg.breakout_rooms,
            classification={"levels": CLASSIFICATION_LEVELS, "current": room.classification},
            guests_can_unmute=room.guests_can_unmute,
            guests_can_present=cfg.guests_can_present,
            message_text=room.message_text or None,
            pinning_config=room.pinning_config or None,
            breakout=room.is_breakout,
        )
        if room.is_breakout:
            status.breakout_name = room.name
            status.breakout_description = room.description
            status.end_action = room.end_action
            status.end_time = room.end_time or 0
            status.breakout_guests_allowed_to_leave = room.guests_allowed_to_leave
            status.breakoutbuzz = room.breakoutbuzz or {"value": False, "time": 0}
        return status


CLASSIFICATION_LEVELS = {"0": "Unclassified", "1": "Official", "2": "Secret"}
