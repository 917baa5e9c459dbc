"""Conference control routes (``conferences/<alias>/<request>``)."""

from __future__ import annotations

from aiohttp import web

from pexbot import wire
from pexbot.emulator.conference import ops_conference as ops

from .web_util import (
    RequestContext,
    RouteSpec,
    body_of,
    context,
    getter,
    no_body,
    ok,
    simple,
    with_body,
)


def _participants(ctx: RequestContext) -> list[dict[str, object]]:
    return [ctx.node.wire(p) for p in ctx.room.participants.values()]


def _status(ctx: RequestContext) -> dict[str, object]:
    return ctx.conference.status(ctx.room).body()


def _message(ctx: RequestContext, body: wire.MessageBody) -> bool:
    return ops.send_message(ctx.node, ctx.conference, ctx.room, ctx.caller, body)


async def _video_mix_configure(request: web.Request) -> web.StreamResponse:
    body = await body_of(request, wire.VideoMixConfigureBody)
    return ok(ops.configure_video_mix(context(request).room, request.match_info["mix"], body))


async def _video_mix_delete(request: web.Request) -> web.StreamResponse:
    await no_body(request)
    return ok(ops.delete_video_mix(context(request).room, request.match_info["mix"]))


def conference_routes(prefix: str, name: str) -> list[RouteSpec]:
    """The room-wide functions, for the main room (``prefix=""``) or a breakout."""
    n = name
    return [
        RouteSpec(
            "POST",
            f"{prefix}lock",
            simple(lambda c: ops.set_locked(c.node, c.room, True)),
            f"{n}.lock",
        ),
        RouteSpec(
            "POST",
            f"{prefix}unlock",
            simple(lambda c: ops.set_locked(c.node, c.room, False)),
            f"{n}.unlock",
        ),
        RouteSpec(
            "POST",
            f"{prefix}muteguests",
            simple(lambda c: ops.mute_guests(c.node, c.room, True)),
            f"{n}.muteguests",
        ),
        RouteSpec(
            "POST",
            f"{prefix}unmuteguests",
            simple(lambda c: ops.mute_guests(c.node, c.room, False)),
            f"{n}.unmuteguests",
        ),
        RouteSpec(
            "POST",
            f"{prefix}transform_layout",
            with_body(
                wire.TransformLayoutBody,
                lambda c, b: ops.transform_layout(c.node, c.conference, c.room, b),
            ),
            f"{n}.transform_layout",
            wire.TransformLayoutBody,
        ),
        RouteSpec(
            "POST",
            f"{prefix}message",
            with_body(wire.MessageBody, _message),
            f"{n}.message",
            wire.MessageBody,
        ),
        RouteSpec(
            "POST",
            f"{prefix}clearallbuzz",
            simple(lambda c: ops.clear_all_buzz(c.node, c.room)),
            f"{n}.clearallbuzz",
        ),
        RouteSpec(
            "POST",
            f"{prefix}video_mixes/create",
            with_body(
                wire.VideoMixCreateBody, lambda c, b: ops.create_video_mix(c.room, b.mix_name)
            ),
            f"{n}.video_mixes_create",
            wire.VideoMixCreateBody,
        ),
        RouteSpec(
            "POST",
            f"{prefix}video_mixes/{{mix}}/configure",
            _video_mix_configure,
            f"{n}.video_mixes_configure",
            wire.VideoMixConfigureBody,
        ),
        RouteSpec(
            "POST",
            f"{prefix}video_mixes/{{mix}}/delete",
            _video_mix_delete,
            f"{n}.video_mixes_delete",
        ),
        # Each breakout room "can be controlled by hosts like a normal VMR" (spec), so the
        # rest of the room functions are per room too.
        RouteSpec("GET", f"{prefix}conference_status", getter(_status), f"{n}.conference_status"),
        RouteSpec("GET", f"{prefix}participants", getter(_participants), f"{n}.participants"),
        RouteSpec(
            "POST",
            f"{prefix}dial",
            with_body(wire.DialBody, lambda c, b: ops.dial(c.node, c.conference, c.room, b)),
            f"{n}.dial",
            wire.DialBody,
        ),
        RouteSpec(
            "POST",
            f"{prefix}start_conference",
            simple(lambda c: ops.start_conference(c.node, c.room)),
            f"{n}.start_conference",
        ),
        RouteSpec(
            "POST",
            f"{prefix}set_guests_can_unmute",
            with_body(
                wire.SetGuestsCanUnmuteBody,
                lambda c, b: ops.set_guests_can_unmute(c.node, c.room, b.setting),
            ),
            f"{n}.set_guests_can_unmute",
            wire.SetGuestsCanUnmuteBody,
        ),
        RouteSpec(
            "POST",
            f"{prefix}clearspotlights",
            simple(lambda c: ops.clear_spotlights(c.node, c.room)),
            f"{n}.clearspotlights",
        ),
        RouteSpec(
            "POST",
            f"{prefix}silent_video_detection",
            with_body(
                wire.SilentVideoDetectionBody,
                lambda c, b: c.room.silent_video.update(b.config.body()) or True,
            ),
            f"{n}.silent_video_detection",
            wire.SilentVideoDetectionBody,
        ),
        RouteSpec(
            "POST",
            f"{prefix}set_classification_level",
            with_body(
                wire.SetClassificationLevelBody,
                lambda c, b: ops.set_classification(c.node, c.room, b.level),
            ),
            f"{n}.set_classification_level",
            wire.SetClassificationLevelBody,
        ),
        RouteSpec(
            "GET",
            f"{prefix}get_classification_level",
            getter(lambda c: ops.classification(c.room)),
            f"{n}.get_classification_level",
        ),
        RouteSpec(
            "POST",
            f"{prefix}set_message_text",
            with_body(
                wire.SetMessageTextBody, lambda c, b: ops.set_message_text(c.node, c.room, b.text)
            ),
            f"{n}.set_message_text",
            wire.SetMessageTextBody,
        ),
        RouteSpec(
            "GET",
            f"{prefix}get_message_text",
            getter(lambda c: ops.message_text(c.room)),
            f"{n}.get_message_text",
        ),
        RouteSpec(
            "POST",
            f"{prefix}set_pinning_config",
            with_body(
                wire.PinningConfigBody,
                lambda c, b: ops.set_pinning_config(c.node, c.room, b.pinning_config),
            ),
            f"{n}.set_pinning_config",
            wire.PinningConfigBody,
        ),
        RouteSpec(
            "GET",
            f"{prefix}get_pinning_config",
            getter(lambda c: {"pinning_config": c.room.pinning_config}),
            f"{n}.get_pinning_config",
        ),
    ]


ROUTES = [
    *conference_routes("", "conference"),
    RouteSpec(
        "POST",
        "disconnect",
        simple(lambda c: ops.disconnect_all(c.node, c.conference, c.room)),
        "conference.disconnect",
    ),
]
