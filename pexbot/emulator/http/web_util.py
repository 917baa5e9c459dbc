"""Shared pieces of the HTTP layer: app keys, the per-request context, body parsing, replies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError

from pexbot.emulator.conference.faults import Faults
from pexbot.emulator.conference.model import BadRequestError, Call, Conference, Participant, Room
from pexbot.emulator.conference.node import Node
from pexbot.wire import WireModel, envelope

from .traffic import Traffic

CONF = "/api/client/v2/conferences/{alias}"

NODE: web.AppKey[Node] = web.AppKey("node", Node)
FAULTS: web.AppKey[Faults] = web.AppKey("faults", Faults)
TRAFFIC: web.AppKey[Traffic] = web.AppKey("traffic", Traffic)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=WireModel)


@dataclass(frozen=True)
class RouteSpec:
    """One route: ``path`` is relative to ``CONF`` unless it starts with ``/api`` or ``/emulator``.

    ``body`` names the model a POST body must satisfy (None: no body expected; any JSON
    object, or nothing, is accepted).
    """

    method: str
    path: str
    handler: Handler
    name: str
    body: type[WireModel] | None = None

    @property
    def full_path(self) -> str:
        if self.path.startswith(("/api/", "/emulator/")):
            return self.path
        return f"{CONF}/{self.path}" if self.path else CONF


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, about what: resolved (and authorised) before the handler runs."""

    node: Node
    caller: Participant
    conference: Conference
    room: Room  # the caller's room, or the breakout a /breakouts/<uuid>/ path names
    target: Participant | None
    call: Call | None


CONTEXT: web.RequestKey[RequestContext] = web.RequestKey("context", RequestContext)


def context(request: web.Request) -> RequestContext:
    ctx = request.get(CONTEXT)
    assert isinstance(ctx, RequestContext), f"route {request.path} has no request context"
    return ctx


def target_of(request: web.Request) -> Participant:
    target = context(request).target
    assert target is not None, "participant route without a participant"
    return target


def call_of(request: web.Request) -> Call:
    call = context(request).call
    assert call is not None, "call route without a call"
    return call


def ok(result: Any = True, *, status: str = "success") -> web.Response:
    return web.json_response(envelope(result, status))


def failed(http_status: int, result: Any, *, status: str = "failed") -> web.Response:
    return web.json_response({"status": status, "result": result}, status=http_status)


async def json_of(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; empty (or ``null``) → ``{}``; anything else → 400."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequestError("Malformed JSON body") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequestError("The request body must be a JSON object")
    return data


def describe(exc: ValidationError) -> str:
    """A short reason naming the fields; never echoes values (a body may hold a PIN)."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "Invalid request body: " + "; ".join(parts)


async def body_of(request: web.Request, model: type[M]) -> M:
    data = await json_of(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequestError(describe(exc)) from None


async def no_body(request: web.Request) -> dict[str, Any]:
    """Endpoints without a documented body accept none or any JSON object (e.g. ``{}``)."""
    return await json_of(request)


def token_of(request: web.Request, *, query_allowed: bool) -> str | None:
    token = request.headers.get("token")
    if not token and query_allowed:
        token = request.query.get("token")
    return token or None


def base_url(request: web.Request) -> str:
    return str(request.url.origin())


def simple(action: Callable[[RequestContext], Any]) -> Handler:
    """A handler for a bodiless POST whose result is what ``action`` returns."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await no_body(request)
        return ok(action(context(request)))

    return handler


def with_body(model: type[M], action: Callable[[RequestContext, M], Any]) -> Handler:
    """A handler for a POST whose body must satisfy ``model``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await body_of(request, model)
        return ok(action(context(request), body))

    return handler


def getter(action: Callable[[RequestContext], Any]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return ok(action(context(request)))

    return handler
