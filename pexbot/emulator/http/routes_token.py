"""request_token / refresh_token / release_token and the event stream."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from pexbot import wire
from pexbot.emulator.conference.admission import INVALID_PIN
from pexbot.emulator.conference.events import ChannelClosed
from pexbot.emulator.conference.model import ForbiddenError

from .web_util import NODE, RouteSpec, base_url, body_of, context, no_body, ok, token_of

log = logging.getLogger(__name__)


async def request_token(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    body = await body_of(request, wire.RequestTokenBody)
    pin = request.headers.get("pin")
    alias = request.match_info["alias"]
    if pin is None or pin == "none":  # no PIN guessed: nothing to slow
        return ok(node.request_token(alias, body, pin, base_url(request)))
    client = request.remote or "unknown"
    delay = node.pin_guard.delay(client, alias, node.now())
    if delay:
        log.info("slowing PIN attempts from %s for %.0f s", client, delay)
        await asyncio.sleep(delay)
    try:
        result = node.request_token(alias, body, pin, base_url(request))
    except ForbiddenError as exc:
        if exc.result == INVALID_PIN:
            node.pin_guard.failed(client, alias, node.now())
        raise
    node.pin_guard.succeeded(client, alias)
    return ok(result)


async def refresh_token(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    await no_body(request)
    return ok(ctx.node.refresh_token(token_of(request, query_allowed=False)))


async def release_token(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await body_of(request, wire.ReleaseTokenBody)
    ctx.node.release(ctx.caller, body.reason or "")
    return ok(True)


async def events(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    node = ctx.node
    if ctx.caller.uuid not in node.participants:
        raise ForbiddenError("Invalid token")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    channel = node.open_stream(ctx.caller, request.headers.get("Last-Event-ID", ""))
    keepalive = node.config.sse_keepalive
    try:
        await response.prepare(request)
        while True:
            try:
                frame = await channel.get(keepalive)
            except ChannelClosed:
                break
            if frame is None:
                if request.transport is None or request.transport.is_closing():
                    break
                frame = b": keepalive\n\n"
            await response.write(frame)
    except (ConnectionError, asyncio.CancelledError) as exc:
        log.debug("event stream of %s ended: %r", ctx.caller.uuid, exc)
        if isinstance(exc, asyncio.CancelledError):
            raise
    finally:
        node.bus.detach(channel)
    return response


ROUTES = [
    RouteSpec("POST", "request_token", request_token, "token.request", wire.RequestTokenBody),
    RouteSpec("POST", "refresh_token", refresh_token, "token.refresh"),
    RouteSpec("POST", "release_token", release_token, "token.release", wire.ReleaseTokenBody),
    RouteSpec("GET", "events", events, "conference.events"),
]
