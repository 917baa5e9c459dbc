"""The aiohttp application: routes and the middleware chain around them.

Middlewares, outermost first:

1. traffic — records every exchange (``emu.traffic``), after everything below has run;
2. CORS — answers ``OPTIONS`` preflights on every ``/api/client/v2`` path (2xx); the
   ``Access-Control-Allow-*`` headers are added to *every* response, errors and the event
   stream included, by an ``on_response_prepare`` hook (official-client-flow §18);
3. errors — refusals (:class:`.model.ApiRefusal`) and aiohttp's own 404/405 become
   ``{"status": "failed", "result": <reason>}`` JSON; anything unexpected is logged and
   answered 500 (a bug: the fuzz test proves malformed input never gets there);
4. faults — injected failures and delays (``emu.faults``);
5. auth — resolves the ``token`` (header; query too for the event stream, release_token and
   the image/theme URLs), the room (``breakouts/<uuid>/`` paths name a breakout), the target
   participant and call (unknown → 404), then applies :mod:`.policy`.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from pexbot.emulator.conference import policy
from pexbot.emulator.conference.faults import Faults
from pexbot.emulator.conference.model import ApiRefusal, NotFoundError
from pexbot.emulator.conference.node import Node

from . import (
    routes_breakout,
    routes_calls,
    routes_conference,
    routes_control,
    routes_misc,
    routes_participant,
    routes_token,
)
from .traffic import RESPONSE_SECRETS, SECRET_HEADERS, Exchange, Traffic, redact
from .web_util import (
    CONTEXT,
    FAULTS,
    NODE,
    TRAFFIC,
    Handler,
    RequestContext,
    RouteSpec,
    failed,
    token_of,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/client/v2"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "content-type, token, pin",
    "Access-Control-Max-Age": "600",
}
#: routes whose token may come in the query string (EventSource, sendBeacon, <img src>)
QUERY_TOKEN_ROUTES = {
    "conference.events",
    "token.release",
    "misc.theme",
    "misc.theme_file",
    "misc.presentation",
    "misc.presentation_high",
    "participant.avatar",
}
#: routes that need no token at all
OPEN_ROUTES = {"token.request", "misc.status"}


def all_routes(control_api: bool) -> list[RouteSpec]:
    routes = [
        *routes_token.ROUTES,
        *routes_misc.ROUTES,
        *routes_conference.ROUTES,
        *routes_participant.ROUTES,
        *routes_calls.ROUTES,
        *routes_breakout.ROUTES,
    ]
    if control_api:
        routes += routes_control.ROUTES
    return routes


@web.middleware
async def traffic_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    body = await request.read() if request.can_read_body else b""
    response = await handler(request)
    if request.path.startswith("/emulator/"):
        return response
    route = request.match_info.route
    resource = route.resource
    text = body.decode("utf-8", "replace")
    try:
        request_json = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        request_json = None
    response_json = None
    content_type = response.content_type
    if isinstance(response, web.Response) and content_type == "application/json" and response.body:
        try:
            response_json = json.loads(response.body)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            response_json = None
    request.app[TRAFFIC].record(
        Exchange(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.query.items() if k != "token"},
            endpoint=route.name,
            template=resource.canonical if resource is not None else None,
            request_headers={
                k.lower(): v for k, v in request.headers.items() if k.lower() not in SECRET_HEADERS
            },
            request_json=redact(request_json),
            request_text="" if request_json is not None else text[:2000],
            status=response.status,
            response_json=redact(response_json, RESPONSE_SECRETS),
            content_type=content_type,
        )
    )
    return response


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" and request.path.startswith(API_PREFIX):
        return web.Response(status=204)
    return await handler(request)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    for key, value in CORS_HEADERS.items():
        response.headers.setdefault(key, value)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiRefusal as exc:
        return failed(exc.http_status, exc.result, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = failed(exc.status, exc.reason)
        if headers:
            response.headers.update(headers)
        return response
    except Exception:
        log.exception("emulator bug handling %s %s", request.method, request.path)
        return failed(500, "Internal emulator error")


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(API_PREFIX):
        rule = request.app[FAULTS].take(request.path)
        if rule is not None:
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.status is not None:
                return failed(rule.status, rule.result)
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    name = request.match_info.route.name
    if name is None or name in OPEN_ROUTES or name.startswith("control."):
        return await handler(request)
    node = request.app[NODE]
    token = token_of(request, query_allowed=name in QUERY_TOKEN_ROUTES)
    caller = node.authenticate(request.match_info["alias"], token)
    conference = node.conference_of(caller)
    room = node.room_of(caller)
    breakout_uuid = request.match_info.get("breakout_uuid")
    if breakout_uuid is not None:
        breakout = conference.breakouts.get(breakout_uuid)
        if breakout is None:
            policy.check(name, caller, None)
            raise NotFoundError("Breakout room not found")
        room = breakout
    target = None
    participant_uuid = request.match_info.get("participant_uuid")
    if participant_uuid is not None:
        target = room.participants.get(participant_uuid)
        if target is None:
            policy.check(name, caller, None)
            # avatar.jpg also serves directory contacts: an unknown uuid is just "no image".
            if name.endswith("participant.avatar"):
                raise NotFoundError("No image available")
            raise NotFoundError("Participant not found")
    policy.check(name, caller, target)
    call = None
    call_uuid = request.match_info.get("call_uuid")
    if call_uuid is not None:
        assert target is not None
        call = target.calls.get(call_uuid)
        if call is None or call.closed:
            raise NotFoundError("Call not found")
    request[CONTEXT] = RequestContext(node, caller, conference, room, target, call)
    return await handler(request)


def build_app(node: Node, faults: Faults, traffic: Traffic) -> web.Application:
    app = web.Application(
        middlewares=[
            traffic_middleware,
            cors_middleware,
            error_middleware,
            fault_middleware,
            auth_middleware,
        ],
        client_max_size=4 * 1024 * 1024,
    )
    app[NODE] = node
    app[FAULTS] = faults
    app[TRAFFIC] = traffic
    for spec in all_routes(node.config.control_api):
        app.router.add_route(spec.method, spec.full_path, spec.handler, name=spec.name)
    app.on_response_prepare.append(add_cors_headers)
    return app
