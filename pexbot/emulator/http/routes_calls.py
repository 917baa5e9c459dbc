"""Call routes: ``participants/<uuid>/calls`` and ``.../calls/<call_uuid>/<request>``."""

from __future__ import annotations

from aiohttp import web

from pexbot import wire
from pexbot.emulator.conference import calls

from .web_util import RouteSpec, body_of, call_of, context, ok, target_of


async def create(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await body_of(request, wire.CallsBody)
    if body.call_type != "WEBRTC":
        raise web.HTTPBadRequest(reason="Only WEBRTC calls are supported by the emulator")
    result = await calls.create_call(ctx.node, ctx.conference, ctx.room, target_of(request), body)
    return ok(result)


async def ack(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await body_of(request, wire.AckBody)
    return ok(await calls.ack(ctx.node, ctx.conference, call_of(request), body))


async def new_candidate(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await body_of(request, wire.NewCandidateBody)
    await calls.new_candidate(ctx.node, ctx.conference, call_of(request), body)
    return ok(None)


async def update(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await body_of(request, wire.UpdateBody)
    return ok(await calls.update(ctx.node, ctx.conference, call_of(request), body))


async def disconnect(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    await body_of(request, _Empty)
    await calls.disconnect_call(ctx.node, ctx.conference, target_of(request), call_of(request))
    return ok(None)


async def dtmf(request: web.Request) -> web.StreamResponse:
    body = await body_of(request, wire.DtmfBody)
    call_of(request).dtmf.append(body.digits)
    return ok(True)


async def fecc(request: web.Request) -> web.StreamResponse:
    body = await body_of(request, wire.FeccBody)
    call_of(request).fecc.append(body.body())
    return ok(True)


async def statistics(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await body_of(request, wire.StatisticsBody)
    calls.record_statistics(ctx.node, target_of(request), call_of(request), body)
    return ok(None)


class _Empty(wire.WireModel):
    pass


def call_routes(prefix: str, name: str) -> list[RouteSpec]:
    """``prefix`` is ``participants/{participant_uuid}/`` or its breakout form."""
    c = prefix + "calls/{call_uuid}/"
    return [
        RouteSpec("POST", prefix + "calls", create, f"{name}.calls", wire.CallsBody),
        RouteSpec("POST", c + "ack", ack, f"{name}.call.ack", wire.AckBody),
        RouteSpec(
            "POST",
            c + "new_candidate",
            new_candidate,
            f"{name}.call.new_candidate",
            wire.NewCandidateBody,
        ),
        RouteSpec("POST", c + "update", update, f"{name}.call.update", wire.UpdateBody),
        RouteSpec("POST", c + "disconnect", disconnect, f"{name}.call.disconnect"),
        RouteSpec("POST", c + "dtmf", dtmf, f"{name}.call.dtmf", wire.DtmfBody),
        RouteSpec("POST", c + "fecc", fecc, f"{name}.call.fecc", wire.FeccBody),
        RouteSpec(
            "POST", c + "statistics", statistics, f"{name}.call.statistics", wire.StatisticsBody
        ),
    ]


ROUTES = call_routes("participants/{participant_uuid}/", "participant")
