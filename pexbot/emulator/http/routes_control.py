"""The emulator's private control API under ``/emulator/`` (faults, traffic, statistics, SSO
page)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pexbot.emulator.conference.model import BadRequestError, NotFoundError
from pexbot.emulator.conference.tokens import Ticket
from pexbot.emulator.media.path_relay import PathState

from .web_util import FAULTS, NODE, TRAFFIC, RouteSpec, json_of


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequestError(f"{key} must be a string")
    return value


def _number(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestError(f"{key} must be a number")
    return float(value)


async def drop_streams(request: web.Request) -> web.StreamResponse:
    data = await json_of(request)
    dropped = request.app[FAULTS].drop_streams(_opt_str(data, "participant_uuid"))
    return web.json_response({"status": "success", "result": dropped})


async def expire_tokens(request: web.Request) -> web.StreamResponse:
    data = await json_of(request)
    request.app[FAULTS].expire_tokens(_opt_str(data, "participant_uuid"))
    return web.json_response({"status": "success", "result": True})


async def fail(request: web.Request) -> web.StreamResponse:
    data = await json_of(request)
    status = data.get("status", 500)
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise BadRequestError("status must be an integer or null")
    count = _number(data, "count", 1)
    if not count.is_integer():
        raise BadRequestError("count must be an integer")
    faults = request.app[FAULTS]
    try:
        if status is None:
            faults.delay_next(
                int(count),
                delay=_number(data, "delay", 0),
                path_contains=_opt_str(data, "path_contains"),
            )
        else:
            faults.fail_next(
                int(count),
                status=status,
                delay=_number(data, "delay", 0),
                path_contains=_opt_str(data, "path_contains"),
                result=_opt_str(data, "result") or "Injected fault",
            )
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    return web.json_response({"status": "success", "result": True})


async def maintenance(request: web.Request) -> web.StreamResponse:
    data = await json_of(request)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequestError("enabled must be a boolean")
    request.app[FAULTS].set_maintenance(enabled)
    return web.json_response({"status": "success", "result": enabled})


async def clear(request: web.Request) -> web.StreamResponse:
    await json_of(request)
    request.app[FAULTS].clear()
    return web.json_response({"status": "success", "result": True})


def _path_json(state: PathState) -> dict[str, Any]:
    counters = state.counters
    return {
        "blocked": state.blocked,
        "loss_percent": state.loss_percent,
        "forwarded_packets": counters.forwarded_packets,
        "forwarded_bytes": counters.forwarded_bytes,
        "dropped_packets": counters.dropped_packets,
    }


async def path(request: web.Request) -> web.StreamResponse:
    """Change the direct-media path of a conference (block, loss); answers its state."""
    data = await json_of(request)
    blocked = data.get("blocked")
    if blocked is not None and not isinstance(blocked, bool):
        raise BadRequestError("blocked must be a boolean")
    loss = _number(data, "loss_percent", -1)
    try:
        state = request.app[FAULTS].set_path(
            _opt_str(data, "target") or "",
            blocked=blocked,
            loss_percent=None if loss < 0 else loss,
        )
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    return web.json_response({"status": "success", "result": _path_json(state)})


async def path_state(request: web.Request) -> web.StreamResponse:
    """``?target=``: the path's fault settings and packet counters."""
    try:
        state = request.app[FAULTS].path(request.query.get("target", ""))
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    return web.json_response({"status": "success", "result": _path_json(state)})


async def statistics(request: web.Request) -> web.StreamResponse:
    """Every statistics sample clients posted, by participant (see .call_stats)."""
    result = request.app[NODE].statistics.to_json()
    return web.json_response({"status": "success", "result": result})


async def traffic(request: web.Request) -> web.StreamResponse:
    records = [
        {
            "method": x.method,
            "path": x.path,
            "query": x.query,
            "endpoint": x.endpoint,
            "template": x.template,
            "request_json": x.request_json,
            "status": x.status,
            "response_json": x.response_json,
        }
        for x in request.app[TRAFFIC]
    ]
    return web.json_response({"status": "success", "result": records})


async def clear_traffic(request: web.Request) -> web.StreamResponse:
    request.app[TRAFFIC].clear()
    return web.json_response({"status": "success", "result": True})


async def sso(request: web.Request) -> web.StreamResponse:
    """The "identity provider": hands out an sso_token for the conference it was sent from."""
    node = request.app[NODE]
    conference = node.conferences.get(request.query.get("conference", ""))
    idp = request.query.get("idp", "")
    if conference is None or idp not in {i.uuid for i in conference.config.idps}:
        raise NotFoundError("Unknown conference or identity provider")
    token = node.issue_ticket(
        Ticket(conference_id=conference.id, role="GUEST", idp_uuid=idp, kind="sso")
    )
    return web.json_response({"status": "success", "result": {"sso_token": token}})


ROUTES = [
    RouteSpec("POST", "/emulator/faults/drop_streams", drop_streams, "control.drop_streams"),
    RouteSpec("POST", "/emulator/faults/expire_tokens", expire_tokens, "control.expire_tokens"),
    RouteSpec("POST", "/emulator/faults/fail", fail, "control.fail"),
    RouteSpec("POST", "/emulator/faults/maintenance", maintenance, "control.maintenance"),
    RouteSpec("POST", "/emulator/faults/clear", clear, "control.clear"),
    RouteSpec("POST", "/emulator/faults/path", path, "control.path"),
    RouteSpec("GET", "/emulator/faults/path", path_state, "control.path_state"),
    RouteSpec("GET", "/emulator/statistics", statistics, "control.statistics"),
    RouteSpec("GET", "/emulator/traffic", traffic, "control.traffic"),
    RouteSpec("POST", "/emulator/traffic/clear", clear_traffic, "control.clear_traffic"),
    RouteSpec("GET", "/emulator/sso", sso, "control.sso"),
]
