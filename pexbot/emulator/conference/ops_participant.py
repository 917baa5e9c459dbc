"""Participant functions: mute, spotlight, role, captions, transfer... (the presentation floor
and ``allow``/``denyrxpresentation`` are in :mod:`.presentation`).

A mute here is the server-side one: the node's ``participant_update`` re-tells the room's media
its :class:`~.media.MediaPolicy`, which takes the muted participant's audio out of what the
others hear (``client_mute`` is only a flag others see)."""

from __future__ import annotations

import asyncio

from pexbot import wire
from pexbot.wire import events as wire_events

from .admission import INVALID_PIN
from .model import NOT_FOUND, BadRequestError, ForbiddenError, NotFoundError, Participant, Room
from .node import Node, captions_key
from .ops_conference import admit_waiting
from .tokens import Ticket

DISCONNECTED_BY_HOST = "Disconnected by another participant"
SELF_DISCONNECT = "API initiated participant disconnect"


def _changed(node: Node, p: Participant, *, views: bool = False) -> bool:
    node.participant_updated(p)
    if views:
        node.refresh_media_views(node.room_of(p))
    return True


def set_muted(node: Node, room: Room, actor: Participant, p: Participant, muted: bool) -> bool:
    if not muted and not actor.is_host and p.muted_by_host and not room.guests_can_unmute:
        raise ForbiddenError("Guests cannot unmute themselves in this conference")
    p.is_muted = muted
    p.muted_by_host = muted and actor.uuid != p.uuid and actor.is_host
    return _changed(node, p)


def set_video_muted(node: Node, p: Participant, muted: bool) -> bool:
    p.is_video_muted = muted
    return _changed(node, p)


def set_client_muted(node: Node, p: Participant, muted: bool) -> bool:
    p.is_client_muted = muted
    return _changed(node, p)


def set_spotlight(node: Node, p: Participant, on: bool) -> bool:
    p.spotlight = node.wall() if on else 0
    return _changed(node, p, views=True)


def unlock(node: Node, room: Room, p: Participant) -> bool:
    if p.service_type != "waiting_room":
        return False
    return admit_waiting(node, room, only=p) == 1


def set_buzz(node: Node, p: Participant, raised: bool) -> bool:
    p.buzz_time = node.wall() if raised else 0
    return _changed(node, p)


def set_overlay_text(node: Node, p: Participant, text: str) -> bool:
    p.overlay_text = text
    return _changed(node, p)


def set_role(node: Node, p: Participant, role: str) -> bool:
    p.role = "HOST" if role == "chair" else "GUEST"
    return _changed(node, p)


def set_pres_in_mix(node: Node, p: Participant, state: bool) -> bool:
    p.needs_presentation_in_mix = state
    return _changed(node, p)


def set_layout_group(node: Node, p: Participant, group: str) -> bool:
    p.layout_group = group or None
    return _changed(node, p)


def check_mix_name(name: str) -> None:
    if not name or any(not part for part in name.split(".")):
        raise BadRequestError("Invalid mix name")


def send_to_audio_mixes(node: Node, p: Participant, body: wire.SendToAudioMixesBody) -> bool:
    for mix in body.mixes:
        check_mix_name(mix.mix_name)
    p.send_to_audio_mixes = list(body.mixes) or [wire.AudioMix(mix_name="main")]
    return _changed(node, p)


def receive_from_audio_mix(node: Node, p: Participant, name: str | None) -> bool:
    if name is not None:
        check_mix_name(name)
    p.receive_from_audio_mix = name
    return _changed(node, p)


def preferred_aspect_ratio(p: Participant, ratio: float) -> bool:
    if not 0 <= ratio <= 2:
        raise BadRequestError("aspect_ratio must be between 0 and 2")
    p.preferred_aspect_ratio = ratio
    return True


def disconnect(node: Node, actor: Participant, p: Participant) -> bool:
    node.remove(p, reason=SELF_DISCONNECT if actor.uuid == p.uuid else DISCONNECTED_BY_HOST)
    return True


# -- live captions ------------------------------------------------------------------------------


def show_live_captions(node: Node, p: Participant) -> None:
    conference = node.conference_of(p)
    if not conference.config.live_captions:
        raise ForbiddenError("Live captions not available")
    node.timers.cancel_key(captions_key(p))
    p.show_live_captions = True
    node.participant_updated(p)
    node.timers.spawn(_caption_script(node, p), key=captions_key(p))


def hide_live_captions(node: Node, p: Participant) -> None:
    node.timers.cancel_key(captions_key(p))
    if p.show_live_captions:
        p.show_live_captions = False
        node.participant_updated(p)


async def _caption_script(node: Node, p: Participant) -> None:
    """Partial captions word by word, then the final sentence, for each scripted sentence."""
    interval = node.config.caption_interval
    for sentence in node.config.caption_script:
        words = sentence.split()
        for n in range(1, len(words)):
            await asyncio.sleep(interval)
            partial = wire_events.LiveCaptionsData(data=" ".join(words[:n]) + " ", is_final=False)
            node.bus.send(p.uuid, "live_captions", partial.body())
        await asyncio.sleep(interval)
        final = wire_events.LiveCaptionsData(data=sentence, is_final=True)
        node.bus.send(p.uuid, "live_captions", final.body())


# -- transfer -----------------------------------------------------------------------------------


def transfer(node: Node, p: Participant, body: wire.TransferBody) -> bool:
    """``refer {alias, token}`` to the participant, then it leaves; the one-time token joins
    ``conference_alias`` with ``role`` (the target's PIN for that role is checked here)."""
    target = node.conference_for_alias(body.conference_alias)
    if target is None:
        raise NotFoundError(NOT_FOUND)
    cfg = target.config
    if cfg.virtual_reception:
        raise BadRequestError("Cannot transfer into a Virtual Reception")
    if body.role == "host":
        expected = cfg.host_pin
    else:
        expected = cfg.guest_pin
    if expected is not None and body.pin != expected:
        raise ForbiddenError(INVALID_PIN)
    ticket = node.issue_ticket(
        Ticket(conference_id=target.id, role="HOST" if body.role == "host" else "GUEST")
    )
    node.bus.send(p.uuid, "refer", {"alias": body.conference_alias, "token": ticket})
    node.remove(p, reason=None)
    return True
