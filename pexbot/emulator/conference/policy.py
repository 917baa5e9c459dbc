"""Who may call what: the one table of role rules (checked before any handler runs).

==============  =========================================================================
rule            endpoints (route names; see :mod:`.app` for the paths)
==============  =========================================================================
HOST            conference: dial, lock, unlock, start_conference, muteguests,
                unmuteguests, set_guests_can_unmute, disconnect, transform_layout,
                clearallbuzz, clearspotlights, silent_video_detection,
                set_classification_level, set_message_text, set_pinning_config,
                video_mixes/*, breakouts (create), participants/breakout (move);
                participant: spotlighton/off, role, transfer, unlock,
                allow/denyrxpresentation, layout_group, send_to_audio_mixes,
                receive_from_audio_mix, pres_in_mix, fecc;
                everything under ``breakouts/<uuid>/`` and ``breakouts/*``
SELF_OR_HOST    participant: disconnect, mute, unmute, video_muted, video_unmuted,
                client_mute, client_unmute, buzz, clearbuzz, show/hide_live_captions,
                overlaytext, dtmf — a Guest only on itself, a Host on anyone.
                (A Guest muted by a Host may unmute itself only while
                ``guests_can_unmute`` is on.)
SELF            participant: calls, take_floor, release_floor, preferred_aspect_ratio,
                notify_not_afk, statistics; every ``calls/<uuid>/*`` — only the
                participant itself (a Host's breakout control participant counts as
                itself). Guests may take the floor only if ``guests_can_present``.
ANY             conference_status, participants, message, theme, available_layouts,
                layout_svgs, get_*, breakoutbuzz, clearbreakoutbuzz, leavebreakout
                (Guests only while ``guests_allowed_to_leave``), participant message
                (direct chat to anyone), avatar.jpg, presentation.jpeg, tokens, events
==============  =========================================================================

Refusals are ``403 {"status": "failed", "result": <reason>}``; the reason names the rule.
"""

from __future__ import annotations

from enum import Enum

from .model import ForbiddenError, Participant


class Rule(Enum):
    ANY = "any"
    SELF = "self"
    SELF_OR_HOST = "self_or_host"
    HOST = "host"


_HOST = {
    "conference.dial",
    "conference.lock",
    "conference.unlock",
    "conference.start_conference",
    "conference.muteguests",
    "conference.unmuteguests",
    "conference.set_guests_can_unmute",
    "conference.disconnect",
    "conference.transform_layout",
    "conference.clearallbuzz",
    "conference.clearspotlights",
    "conference.silent_video_detection",
    "conference.set_classification_level",
    "conference.set_message_text",
    "conference.set_pinning_config",
    "conference.video_mixes_create",
    "conference.video_mixes_configure",
    "conference.video_mixes_delete",
    "conference.breakouts",
    "conference.move_to_breakout",
    "participant.spotlighton",
    "participant.spotlightoff",
    "participant.role",
    "participant.transfer",
    "participant.unlock",
    "participant.allowrxpresentation",
    "participant.denyrxpresentation",
    "participant.layout_group",
    "participant.send_to_audio_mixes",
    "participant.receive_from_audio_mix",
    "participant.pres_in_mix",
    "participant.fecc",
}

_SELF_OR_HOST = {
    "participant.disconnect",
    "participant.mute",
    "participant.unmute",
    "participant.video_muted",
    "participant.video_unmuted",
    "participant.client_mute",
    "participant.client_unmute",
    "participant.buzz",
    "participant.clearbuzz",
    "participant.show_live_captions",
    "participant.hide_live_captions",
    "participant.overlaytext",
    "participant.dtmf",
}

_SELF = {
    "participant.calls",
    "participant.take_floor",
    "participant.release_floor",
    "participant.preferred_aspect_ratio",
    "participant.notify_not_afk",
    "participant.statistics",
}


def rule_for(route_name: str) -> Rule:
    if route_name.startswith("breakout."):
        return Rule.HOST
    if route_name.startswith("participant.call."):
        return Rule.SELF
    if route_name in _HOST:
        return Rule.HOST
    if route_name in _SELF_OR_HOST:
        return Rule.SELF_OR_HOST
    if route_name in _SELF:
        return Rule.SELF
    return Rule.ANY


def is_self(caller: Participant, target: Participant) -> bool:
    return target.uuid == caller.uuid or target.control_of == caller.uuid


def check(route_name: str, caller: Participant, target: Participant | None) -> None:
    """Raise 403 if ``caller`` may not call ``route_name`` (on ``target``, if any)."""
    rule = rule_for(route_name)
    endpoint = route_name.rsplit(".", 1)[-1]
    if rule is Rule.ANY:
        return
    if rule is Rule.HOST:
        if not caller.is_host:
            raise ForbiddenError(f"Permission denied: {endpoint} is for Hosts only")
        return
    if target is None:
        return
    if rule is Rule.SELF and not is_self(caller, target):
        raise ForbiddenError(
            f"Permission denied: {endpoint} can only be used on your own participant"
        )
    if rule is Rule.SELF_OR_HOST and not (caller.is_host or is_self(caller, target)):
        raise ForbiddenError(f"Permission denied: Guests may {endpoint} only themselves")
