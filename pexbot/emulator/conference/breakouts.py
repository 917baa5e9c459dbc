"""Breakout rooms: create, move people between rooms, ask for help, close.

Model: a breakout is another :class:`.model.Room` of the same conference (same alias; tokens
stay valid). A moved participant gets ``breakout_refer {breakout_uuid, breakout_name}``
(``breakout_uuid: "main"`` on the way back), then a fresh ``participant_sync`` of its new room
on the same event stream. Every main-room Host has a control participant in each breakout,
gets ``breakout_begin`` when one opens, all of its room events wrapped in ``breakout_event``,
and ``breakout_end`` when it closes. Closing applies ``end_action``: ``transfer`` moves
everyone back to the main room, ``disconnect`` disconnects them.
"""

from __future__ import annotations

from pexbot import wire

from .model import (
    BadRequestError,
    Conference,
    ForbiddenError,
    NotFoundError,
    Participant,
    Room,
    new_uuid,
)
from .node import Node
from .ops_conference import send_message
from .tokens import Ticket

BREAKOUT_CLOSED = "Breakout room closed"


def _timer_key(room: Room) -> str:
    return f"breakout:{room.id}"


def _resolve(conference: Conference, room_key: str) -> Room:
    room = conference.main if room_key == "main" else conference.breakouts.get(room_key)
    if room is None:
        raise ForbiddenError("Breakout room not found")
    return room


def create(node: Node, conference: Conference, body: wire.BreakoutsBody) -> str:
    if not conference.config.breakout_rooms:
        raise ForbiddenError("Breakout rooms are not enabled for this conference")
    if body.duration is not None and body.duration < 0:
        raise BadRequestError("duration must be >= 0")
    moves: list[tuple[Room, Participant]] = []
    for room_key, uuids in (body.participants or {}).items():
        source = _resolve(conference, room_key)
        for uuid in uuids:
            p = source.participants.get(uuid)
            if p is None:
                raise ForbiddenError(f"Participant not found in room {room_key}")
            moves.append((source, p))
    now = node.wall()
    room = Room(
        id=new_uuid(),
        conference_id=conference.id,
        is_breakout=True,
        name=body.name,
        description=body.description or "",
        end_action=body.end_action or "transfer",
        end_time=now + body.duration if body.duration else None,
        guests_allowed_to_leave=bool(body.guests_allowed_to_leave),
        created_at=now,
    )
    conference.breakouts[room.id] = room
    hosts = [p for p in conference.main.participants.values() if p.kind == "client" and p.is_host]
    for host in hosts:
        node.add_control(host, room)
    for host in hosts:
        node.announce_breakout(host, room)
    for source, p in moves:
        move(node, source, room, p)
    if body.duration:
        node.timers.call_later(
            body.duration, lambda: close(node, conference, room), key=_timer_key(room)
        )
    return room.id


def move(node: Node, source: Room, target: Room, p: Participant) -> None:
    """Move one participant between rooms of its conference (no-op for control ones)."""
    if p.kind == "control" or source.id == target.id:
        return
    if source.presenter_uuid == p.uuid:
        node.stop_presentation(source)
    source.participants.pop(p.uuid, None)
    p.previous_room_id = source.id
    node.emit_room(source, "participant_delete", {"uuid": p.uuid})
    node.refresh_media_views(source)
    refer = {"breakout_uuid": target.id if target.is_breakout else "main"}
    if target.is_breakout:
        refer["breakout_name"] = target.name
    node.bus.send(p.uuid, "breakout_refer", refer)
    p.room_id = target.id
    target.participants[p.uuid] = p
    node.emit_room(target, "participant_create", node.wire(p), exclude=p.uuid)
    node.resync(p)


def move_listed(
    node: Node,
    conference: Conference,
    source: Room,
    body: wire.BreakoutMoveBody,
    actor: Participant,
) -> bool:
    """``participants/breakout``: an empty list moves everyone (but the caller)."""
    if body.participants:
        chosen = []
        for uuid in body.participants:
            p = source.participants.get(uuid)
            if p is None:
                raise ForbiddenError("Participant not found in the source room")
            chosen.append(p)
    else:
        chosen = [p for p in source.participants.values() if p.uuid != actor.uuid]
    chosen = [p for p in chosen if p.kind != "control"]
    if body.breakout_uuid == "previous":
        if any(p.previous_room_id is None for p in chosen):
            raise ForbiddenError("A participant has no previous room")
        for p in chosen:
            target = conference.room(p.previous_room_id or "") or conference.main
            move(node, source, target, p)
        return True
    target = _resolve(conference, body.breakout_uuid)
    for p in chosen:
        move(node, source, target, p)
    return True


def close(node: Node, conference: Conference, room: Room) -> bool:
    if conference.breakouts.get(room.id) is not room:
        return False
    node.timers.cancel_key(_timer_key(room))
    for p in list(room.participants.values()):
        if p.kind == "control":
            continue
        if room.end_action == "disconnect":
            node.remove(p, reason=BREAKOUT_CLOSED)
        else:
            move(node, room, conference.main, p)
    controls = {p.control_of: p.uuid for p in room.participants.values() if p.kind == "control"}
    for uuid in list(controls.values()):
        node.participants.pop(uuid, None)
    room.participants.clear()
    conference.breakouts.pop(room.id, None)
    for host in conference.main.participants.values():
        if host.kind == "client" and host.is_host:
            end = {"breakout_uuid": room.id, "participant_uuid": controls.get(host.uuid, "")}
            node.bus.send(host.uuid, "breakout_end", end)
    return True


def close_all(node: Node, conference: Conference) -> None:
    for room in list(conference.breakouts.values()):
        close(node, conference, room)


def empty_all(node: Node, conference: Conference) -> bool:
    for room in list(conference.breakouts.values()):
        for p in list(room.participants.values()):
            move(node, room, conference.main, p)
    return True


def message_all(
    node: Node, conference: Conference, sender: Participant, body: wire.MessageBody
) -> bool:
    for room in conference.breakouts.values():
        send_message(node, conference, room, sender, body)
    return True


def leave(node: Node, conference: Conference, room: Room, p: Participant) -> bool:
    if not room.is_breakout:
        raise ForbiddenError("Not in a breakout room")
    if not p.is_host and not room.guests_allowed_to_leave:
        raise ForbiddenError("Guests may not leave this breakout room")
    move(node, room, conference.main, p)
    return True


def set_buzz(node: Node, room: Room, raised: bool) -> bool:
    if not room.is_breakout:
        raise ForbiddenError("Not in a breakout room")
    room.breakoutbuzz = {"value": raised, "time": node.wall() if raised else 0}
    node.conference_updated(room)
    return True


def guest_token(node: Node, room: Room) -> str:
    return node.issue_ticket(
        Ticket(
            conference_id=room.conference_id, role="GUEST", breakout_uuid=room.id, kind="breakout"
        )
    )


def breakout_of(conference: Conference, uuid: str) -> Room:
    room = conference.breakouts.get(uuid)
    if room is None:
        raise NotFoundError("Breakout room not found")
    return room
