"""Participant function routes (``participants/<uuid>/<request>``, also under breakouts)."""

from __future__ import annotations

from typing import Any

from pexbot import wire
from pexbot.emulator.conference import ops_conference, presentation
from pexbot.emulator.conference import ops_participant as ops

from .web_util import RequestContext, RouteSpec, simple, with_body


def _t(ctx: RequestContext) -> Any:
    assert ctx.target is not None
    return ctx.target


def _record_dtmf(ctx: RequestContext, body: wire.DtmfBody) -> bool:
    _t(ctx).dtmf_received.append(body.digits)
    return True


def _record_fecc(ctx: RequestContext, body: wire.FeccParticipantBody) -> bool:
    _t(ctx).fecc_received.append(body.body())
    return True


def _take_floor(ctx: RequestContext) -> None:
    presentation.take_floor(ctx.node, ctx.room, _t(ctx))


def _release_floor(ctx: RequestContext) -> None:
    presentation.release_floor(ctx.node, ctx.room, _t(ctx))


def _rx_presentation(ctx: RequestContext, allowed: bool) -> bool:
    return presentation.set_rx_presentation(ctx.node, _t(ctx), allowed)


def _notify_not_afk(ctx: RequestContext) -> bool:
    _t(ctx).last_notified_afk = ctx.node.wall()
    return True


def _statistics(ctx: RequestContext, body: wire.StatisticsBody) -> None:
    _t(ctx).statistics = body.body()


def _message(ctx: RequestContext, body: wire.MessageBody) -> bool:
    return ops_conference.send_direct_message(ctx.node, ctx.conference, ctx.caller, _t(ctx), body)


def participant_routes(prefix: str, name: str) -> list[RouteSpec]:
    """``prefix`` is ``participants/{participant_uuid}/`` or its breakout form."""

    def route(suffix: str, handler: Any, body: type[wire.WireModel] | None = None) -> RouteSpec:
        return RouteSpec("POST", prefix + suffix, handler, f"{name}.{suffix}", body)

    def flag(action: Any) -> Any:
        return simple(action)

    return [
        route("disconnect", flag(lambda c: ops.disconnect(c.node, c.caller, _t(c)))),
        route("mute", flag(lambda c: ops.set_muted(c.node, c.room, c.caller, _t(c), True))),
        route("unmute", flag(lambda c: ops.set_muted(c.node, c.room, c.caller, _t(c), False))),
        route("video_muted", flag(lambda c: ops.set_video_muted(c.node, _t(c), True))),
        route("video_unmuted", flag(lambda c: ops.set_video_muted(c.node, _t(c), False))),
        route("client_mute", flag(lambda c: ops.set_client_muted(c.node, _t(c), True))),
        route("client_unmute", flag(lambda c: ops.set_client_muted(c.node, _t(c), False))),
        route("allowrxpresentation", flag(lambda c: _rx_presentation(c, True))),
        route("denyrxpresentation", flag(lambda c: _rx_presentation(c, False))),
        route("spotlighton", flag(lambda c: ops.set_spotlight(c.node, _t(c), True))),
        route("spotlightoff", flag(lambda c: ops.set_spotlight(c.node, _t(c), False))),
        route("unlock", flag(lambda c: ops.unlock(c.node, c.room, _t(c)))),
        route("buzz", flag(lambda c: ops.set_buzz(c.node, _t(c), True))),
        route("clearbuzz", flag(lambda c: ops.set_buzz(c.node, _t(c), False))),
        route("take_floor", flag(_take_floor)),
        route("release_floor", flag(_release_floor)),
        route("show_live_captions", flag(lambda c: ops.show_live_captions(c.node, _t(c)))),
        route("hide_live_captions", flag(lambda c: ops.hide_live_captions(c.node, _t(c)))),
        route("notify_not_afk", flag(_notify_not_afk)),
        route("dtmf", with_body(wire.DtmfBody, _record_dtmf), wire.DtmfBody),
        route("fecc", with_body(wire.FeccParticipantBody, _record_fecc), wire.FeccParticipantBody),
        route("message", with_body(wire.MessageBody, _message), wire.MessageBody),
        route(
            "overlaytext",
            with_body(
                wire.OverlayTextBody, lambda c, b: ops.set_overlay_text(c.node, _t(c), b.text)
            ),
            wire.OverlayTextBody,
        ),
        route(
            "pres_in_mix",
            with_body(wire.PresInMixBody, lambda c, b: ops.set_pres_in_mix(c.node, _t(c), b.state)),
            wire.PresInMixBody,
        ),
        route(
            "role",
            with_body(wire.RoleBody, lambda c, b: ops.set_role(c.node, _t(c), b.role)),
            wire.RoleBody,
        ),
        route(
            "transfer",
            with_body(wire.TransferBody, lambda c, b: ops.transfer(c.node, _t(c), b)),
            wire.TransferBody,
        ),
        route(
            "preferred_aspect_ratio",
            with_body(
                wire.PreferredAspectRatioBody,
                lambda c, b: ops.preferred_aspect_ratio(_t(c), b.aspect_ratio),
            ),
            wire.PreferredAspectRatioBody,
        ),
        route(
            "layout_group",
            with_body(
                wire.LayoutGroupBody,
                lambda c, b: ops.set_layout_group(c.node, _t(c), b.layout_group),
            ),
            wire.LayoutGroupBody,
        ),
        route(
            "send_to_audio_mixes",
            with_body(
                wire.SendToAudioMixesBody, lambda c, b: ops.send_to_audio_mixes(c.node, _t(c), b)
            ),
            wire.SendToAudioMixesBody,
        ),
        route(
            "receive_from_audio_mix",
            with_body(
                wire.ReceiveFromAudioMixBody,
                lambda c, b: ops.receive_from_audio_mix(c.node, _t(c), b.mix_name),
            ),
            wire.ReceiveFromAudioMixBody,
        ),
        route("statistics", with_body(wire.StatisticsBody, _statistics), wire.StatisticsBody),
    ]


ROUTES = participant_routes("participants/{participant_uuid}/", "participant")
