"""Breakout room routes: ``breakouts``, ``breakouts/*`` and ``breakouts/<uuid>/...``."""

from __future__ import annotations

from pexbot import wire
from pexbot.emulator.conference import breakouts

from .routes_calls import call_routes
from .routes_conference import conference_routes
from .routes_participant import participant_routes
from .web_util import RequestContext, RouteSpec, simple, with_body

B = "breakouts/{breakout_uuid}/"


def _create(ctx: RequestContext, body: wire.BreakoutsBody) -> dict[str, str]:
    uuid = breakouts.create(ctx.node, ctx.conference, body)
    return wire.BreakoutCreated(breakout_uuid=uuid).body()


def _move(ctx: RequestContext, body: wire.BreakoutMoveBody) -> bool:
    return breakouts.move_listed(ctx.node, ctx.conference, ctx.room, body, ctx.caller)


def _close_all(ctx: RequestContext) -> None:
    breakouts.close_all(ctx.node, ctx.conference)


ROUTES = [
    RouteSpec(
        "POST",
        "breakouts",
        with_body(wire.BreakoutsBody, _create),
        "conference.breakouts",
        wire.BreakoutsBody,
    ),
    RouteSpec(
        "POST",
        "participants/breakout",
        with_body(wire.BreakoutMoveBody, _move),
        "conference.move_to_breakout",
        wire.BreakoutMoveBody,
    ),
    RouteSpec(
        "POST",
        "breakouts/message",
        with_body(
            wire.MessageBody, lambda c, b: breakouts.message_all(c.node, c.conference, c.caller, b)
        ),
        "breakout.all_message",
        wire.MessageBody,
    ),
    RouteSpec("POST", "breakouts/disconnect", simple(_close_all), "breakout.all_disconnect"),
    RouteSpec(
        "POST",
        "breakouts/empty",
        simple(lambda c: breakouts.empty_all(c.node, c.conference)),
        "breakout.all_empty",
    ),
    RouteSpec(
        "POST",
        "breakoutbuzz",
        simple(lambda c: breakouts.set_buzz(c.node, c.room, True)),
        "conference.breakoutbuzz",
    ),
    RouteSpec(
        "POST",
        "clearbreakoutbuzz",
        simple(lambda c: breakouts.set_buzz(c.node, c.room, False)),
        "conference.clearbreakoutbuzz",
    ),
    RouteSpec(
        "POST",
        "leavebreakout",
        simple(lambda c: breakouts.leave(c.node, c.conference, c.room, c.caller)),
        "conference.leavebreakout",
    ),
    # one breakout room, controlled by a Host in the main room
    RouteSpec(
        "POST",
        B + "disconnect",
        simple(lambda c: breakouts.close(c.node, c.conference, c.room)),
        "breakout.disconnect",
    ),
    RouteSpec(
        "POST",
        B + "participants/breakout",
        with_body(wire.BreakoutMoveBody, _move),
        "breakout.move",
        wire.BreakoutMoveBody,
    ),
    RouteSpec(
        "POST",
        B + "breakoutbuzz",
        simple(lambda c: breakouts.set_buzz(c.node, c.room, True)),
        "breakout.breakoutbuzz",
    ),
    RouteSpec(
        "POST",
        B + "clearbreakoutbuzz",
        simple(lambda c: breakouts.set_buzz(c.node, c.room, False)),
        "breakout.clearbreakoutbuzz",
    ),
    RouteSpec(
        "POST",
        B + "request_guest_token",
        simple(lambda c: breakouts.guest_token(c.node, c.room)),
        "breakout.request_guest_token",
    ),
    *conference_routes(B, "breakout"),
    *participant_routes(B + "participants/{participant_uuid}/", "breakout.participant"),
    *call_routes(B + "participants/{participant_uuid}/", "breakout.participant"),
]
