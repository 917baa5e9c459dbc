"""Conference (room-wide) operations: lock, waiting room, guest mute, chat, layout, dial..."""

from __future__ import annotations

import time
from typing import Any

from pexbot import wire
from pexbot.wire import events as wire_events

from . import assets
from .model import (
    CLASSIFICATION_LEVELS,
    BadRequestError,
    Conference,
    ForbiddenError,
    NotFoundError,
    Participant,
    Room,
    new_uuid,
)
from .node import Node


def admit_waiting(node: Node, room: Room, only: Participant | None = None) -> int:
    """Let waiting-room participants in; how many came in."""
    conference = node.conferences[room.conference_id]
    waiting = [p for p in room.participants.values() if p.service_type == "waiting_room"]
    if only is not None:
        waiting = [p for p in waiting if p.uuid == only.uuid]
    for p in waiting:
        p.service_type = conference.config.service_type
        node.participant_updated(p)
    if waiting:
        node.refresh_media_views(room)
    return len(waiting)


def set_locked(node: Node, room: Room, locked: bool) -> bool:
    room.locked = locked
    if not locked and room.started:
        admit_waiting(node, room)
    node.conference_updated(room)
    return True


def start_conference(node: Node, room: Room) -> bool:
    room.started = True
    room.locked = False
    admit_waiting(node, room)
    node.conference_updated(room)
    return True


def mute_guests(node: Node, room: Room, muted: bool) -> bool:
    room.guests_muted = muted
    for p in room.participants.values():
        if not p.is_host and p.is_muted != muted:
            p.is_muted = muted
            p.muted_by_host = muted
            node.participant_updated(p)
    node.conference_updated(room)
    return True


def set_guests_can_unmute(node: Node, room: Room, setting: bool) -> bool:
    room.guests_can_unmute = setting
    node.conference_updated(room)
    return True


DISCONNECTED_BY_HOST = "Disconnected by another participant"


def disconnect_all(node: Node, conference: Conference, room: Room) -> bool:
    """Disconnect everyone; from the main room that ends the breakouts too."""
    rooms = conference.rooms() if not room.is_breakout else [room]
    for r in rooms:
        for p in list(r.participants.values()):
            node.remove(p, reason=DISCONNECTED_BY_HOST)
    return True


def send_message(
    node: Node, conference: Conference, room: Room, sender: Participant, body: wire.MessageBody
) -> bool:
    if not conference.config.chat_enabled:
        raise ForbiddenError("Chat is disabled for this conference")
    data = wire_events.MessageReceivedData(
        origin=sender.display_name,
        uuid=sender.uuid,
        type=body.type,
        payload=body.payload,
        direct=False,
    ).body()
    node.emit_room(room, "message_received", data, exclude=sender.uuid)
    return True


def send_direct_message(
    node: Node,
    conference: Conference,
    sender: Participant,
    target: Participant,
    body: wire.MessageBody,
) -> bool:
    if not conference.config.chat_enabled:
        raise ForbiddenError("Chat is disabled for this conference")
    data = wire_events.MessageReceivedData(
        origin=sender.display_name,
        uuid=sender.uuid,
        type=body.type,
        payload=body.payload,
        direct=True,
    ).body()
    node.bus.send(target.uuid, "message_received", data)
    return True


def transform_layout(
    node: Node, conference: Conference, room: Room, body: wire.TransformLayoutBody
) -> bool:
    transforms = body.transforms.body()
    lecture = conference.config.service_type == "lecture"
    if "guest_layout" in transforms and not lecture:
        raise BadRequestError("guest_layout needs a Virtual Auditorium (lecture)")
    for key in ("layout", "host_layout", "guest_layout"):
        if key in transforms and assets.canonical_layout(transforms[key]) is None:
            raise BadRequestError(f"Unknown layout for {key}")
    streaming = transforms.get("streaming") or {}
    if "layout" in streaming and assets.canonical_layout(streaming["layout"]) is None:
        raise BadRequestError("Unknown layout for streaming.layout")
    # Requests are cumulative; an empty transforms object resets them all (spec).
    room.transforms = {**room.transforms, **transforms} if transforms else {}
    requested = room.transforms.get("layout") or room.transforms.get("host_layout")
    room.layout = assets.canonical_layout(requested) if requested else "1:7"  # type: ignore[assignment]
    node.timers.spawn(node.media.layout_changed(room.id, room.layout))
    node.refresh_media_views(room)
    return True


def clear_all_buzz(node: Node, room: Room) -> bool:
    for p in room.participants.values():
        if p.buzz_time:
            p.buzz_time = 0
            node.participant_updated(p)
    return True


def clear_spotlights(node: Node, room: Room) -> bool:
    for p in room.participants.values():
        if p.spotlight:
            p.spotlight = 0
            node.participant_updated(p)
    node.refresh_media_views(room)
    return True


def set_message_text(node: Node, room: Room, text: str) -> bool:
    room.message_text = text
    room.message_set_time = time.time() if text else None
    node.conference_updated(room)
    return True


def message_text(room: Room) -> dict[str, Any]:
    set_time = ""
    if room.message_set_time is not None:
        set_time = time.strftime(
            "UTC+00:00 - %Y-%m-%d %H:%M:%S", time.gmtime(room.message_set_time)
        )
    return wire.MessageText(text=room.message_text, set_time=set_time).body()


def set_classification(node: Node, room: Room, level: int) -> bool:
    if str(level) not in CLASSIFICATION_LEVELS:
        raise BadRequestError("Unknown classification level")
    room.classification = level
    node.conference_updated(room)
    return True


def classification(room: Room) -> dict[str, Any]:
    return {"levels": CLASSIFICATION_LEVELS, "current": room.classification}


def set_pinning_config(node: Node, room: Room, name: str) -> bool:
    room.pinning_config = name
    node.conference_updated(room)
    return True


def create_video_mix(room: Room, name: str) -> bool:
    if not name:
        raise BadRequestError("mix_name must not be empty")
    room.video_mixes.setdefault(name, {})
    return True


def configure_video_mix(room: Room, name: str, body: wire.VideoMixConfigureBody) -> bool:
    if name not in room.video_mixes:
        raise NotFoundError("Video mix not found")
    layout = body.transform_layout.layout
    if layout is not None and assets.canonical_layout(layout) is None:
        raise BadRequestError("Unknown layout for transform_layout.layout")
    room.video_mixes[name] = body.transform_layout.body()
    return True


def delete_video_mix(room: Room, name: str) -> bool:
    if room.video_mixes.pop(name, None) is None:
        raise NotFoundError("Video mix not found")
    return True


# -- dial-out -----------------------------------------------------------------------------------


def dial(node: Node, conference: Conference, room: Room, body: wire.DialBody) -> list[str]:
    """A dialled participant appears ``connecting``; answered after ``dial_answer_delay``.

    Destinations containing ``noanswer`` ring until ``dial_timeout`` and are then dropped;
    ``reject`` or ``busy`` are dropped at answer time.
    """
    if not body.destination.strip():
        raise BadRequestError("destination must not be empty")
    p = Participant(
        uuid=new_uuid(),
        display_name=body.remote_display_name or body.destination,
        role="HOST" if body.role == "HOST" else "GUEST",
        conference_id=conference.id,
        room_id=room.id,
        service_type="connecting",
        start_time=node.wall(),
        kind="dialout",
        protocol="sip" if body.protocol == "auto" else body.protocol,
        call_direction="out",
        uri=body.destination,
        overlay_text=body.text or "",
        audio_only=body.call_type == "audio",
        has_media_override=False,
    )
    node.add_to_room(p, room)
    destination = body.destination.lower()
    cfg = node.config

    def answer() -> None:
        if p.uuid not in node.participants:
            return
        p.service_type = conference.config.service_type
        p.has_media_override = True
        node.participant_updated(p)
        node.refresh_media_views(node.room_of(p))

    def drop() -> None:
        if p.uuid in node.participants:
            node.remove(p, reason=None)

    if "noanswer" in destination:
        node.timers.call_later(cfg.dial_timeout, drop, key=p.uuid)
    elif "reject" in destination or "busy" in destination:
        node.timers.call_later(cfg.dial_answer_delay, drop, key=p.uuid)
    else:
        node.timers.call_later(cfg.dial_answer_delay, answer, key=p.uuid)
    return [p.uuid]
