"""ApiTransport over real HTTP on loopback against a tiny aiohttp node, and the status mapping."""

from __future__ import annotations

import logging
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pexbot.errors import (
    ApiError,
    BadRequest,
    ConferenceNotFound,
    FloorDenied,
    Forbidden,
    HostOnly,
    InvalidToken,
    NodeUnavailable,
    TransportError,
    UnexpectedResponse,
)
from pexbot.signalling.api import NodeApi
from pexbot.signalling.http import ApiTransport, error_for, node_origin

TOKEN = "tok-SECRET-5e1f"
PIN = "9731"


def test_error_for_maps_every_status() -> None:
    assert type(error_for("x", 400, "bad")) is BadRequest
    assert type(error_for("x", 404, "gone")) is ConferenceNotFound
    for status in (502, 503, 504, 529):
        assert type(error_for("x", status, "busy")) is NodeUnavailable
    assert type(error_for("x", 500, "boom")) is UnexpectedResponse
    assert type(error_for("x", 418, None)) is UnexpectedResponse
    assert type(error_for("x", 200, "Live captions not available")) is ApiError


def test_error_for_403_by_role_and_reason() -> None:
    # A host-only function refused while we are a guest.
    assert type(error_for("lock", 403, "Forbidden", host_only=True, role="GUEST")) is HostOnly
    # The same refusal as a host is not "host only".
    assert type(error_for("lock", 403, "Forbidden", host_only=True, role="HOST")) is Forbidden
    # Not host-only and guest: plain Forbidden.
    assert type(error_for("message", 403, "Chat disabled", role="GUEST")) is Forbidden
    # The node's words win: token problems are token problems, whatever the endpoint.
    err = error_for("lock", 403, "Invalid token", host_only=True, role="GUEST")
    assert type(err) is InvalidToken
    assert type(error_for("x", 403, "This function is host only", role="HOST")) is HostOnly
    assert type(error_for("participants/u/take_floor", 403, "Busy")) is FloorDenied
    err = error_for("lock", 403, "Forbidden", host_only=True, role="GUEST")
    assert err.endpoint == "lock" and err.status == 403 and "Forbidden" in str(err)


def test_node_origin_drops_credentials_and_path() -> None:
    assert node_origin("https://user:pw@node.example:8443/x?token=1") == "https://node.example:8443"
    assert node_origin("http://[::1]:80/") == "http://[::1]:80"


def _app(seen: list[dict[str, Any]], state: dict[str, bool] | None = None) -> web.Application:
    state = state if state is not None else {}

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body,
            }
        )
        tail = request.match_info["tail"]
        if tail == "ok":
            return web.json_response({"status": "success", "result": True})
        if tail == "lock":
            return web.json_response({"status": "success", "result": "Forbidden"}, status=403)
        if tail == "jpeg":
            return web.Response(body=b"\xff\xd8jpeg", content_type="image/jpeg")
        if tail == "text502":
            return web.Response(text="Bad gateway", status=502)
        if tail == "failure":
            return web.json_response({"status": "failure", "result": "Not configured"})
        return web.json_response({"status": "failure", "result": "nope"}, status=404)

    async def status(request: web.Request) -> web.Response:
        if state.get("maintenance"):
            return web.json_response({"status": "failed", "result": "Maintenance mode"}, status=503)
        return web.json_response({"status": "success", "result": "OK"})

    app = web.Application()
    app.router.add_get("/api/client/v2/status", status)
    app.router.add_route("*", "/api/client/v2/conferences/{alias}/{tail:.*}", handler)
    return app


async def test_headers_envelope_and_errors(aiohttp_server: Any) -> None:
    seen: list[dict[str, Any]] = []
    server = await aiohttp_server(_app(seen))
    transport = ApiTransport(str(server.make_url("")), "meet alice/1")
    try:
        raw = await transport.request("POST", "ok", json={"a": 1}, token=TOKEN, pin=PIN)
        assert raw.ok and raw.result is True and raw.envelope_status == "success"
        first = seen[-1]
        # The alias is one path segment, percent-encoded; the secrets travel as headers only.
        assert first["path"] == "/api/client/v2/conferences/meet alice/1/ok"
        assert first["headers"]["token"] == TOKEN and first["headers"]["pin"] == PIN
        assert first["query"] == {} and first["body"] == b'{"a": 1}'

        raw = await transport.request("GET", "jpeg", token=TOKEN, params={"id": "f1"})
        assert raw.content == b"\xff\xd8jpeg" and seen[-1]["query"] == {"id": "f1"}

        transport.role = "GUEST"
        with pytest.raises(HostOnly) as host_only:
            await transport.request("POST", "lock", token=TOKEN, host_only=True)
        assert host_only.value.status == 403
        transport.role = "HOST"
        with pytest.raises(Forbidden) as forbidden:
            await transport.request("POST", "lock", token=TOKEN, host_only=True)
        assert type(forbidden.value) is Forbidden

        with pytest.raises(NodeUnavailable, match="Bad gateway"):
            await transport.request("POST", "text502", token=TOKEN)
        with pytest.raises(ApiError, match="Not configured"):
            await transport.request("POST", "failure", token=TOKEN)
        with pytest.raises(ConferenceNotFound):
            await transport.request("GET", "missing", token=TOKEN)
    finally:
        await transport.aclose()


async def test_node_status_and_maintenance(aiohttp_server: Any) -> None:
    state = {"maintenance": False}
    server = await aiohttp_server(_app([], state))
    transport = ApiTransport(str(server.make_url("")), "any")
    try:
        node = NodeApi(transport)
        assert await node.status() == "OK"
        assert await node.available()
        state["maintenance"] = True
        with pytest.raises(NodeUnavailable, match="Maintenance mode"):
            await node.status()
        assert not await node.available()
    finally:
        await transport.aclose()


async def test_connect_failure_names_the_node_not_the_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again on exit: nothing listens there
    transport = ApiTransport(f"http://user:pw@127.0.0.1:{port}/", "meet", timeout=5)
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(TransportError) as info:
            await transport.request("POST", "request_token", token=TOKEN, pin=PIN)
    finally:
        await transport.aclose()
    message = str(info.value)
    assert f"http://127.0.0.1:{port}" in message and "request_token" in message
    for secret in (TOKEN, PIN, "pw"):
        assert secret not in message
        assert secret not in caplog.text


async def test_injected_session_is_not_closed(aiohttp_server: Any) -> None:
    server = await aiohttp_server(_app([]))
    async with aiohttp.ClientSession() as http:
        transport = ApiTransport(str(server.make_url("")), "meet", http=http)
        await transport.request("POST", "ok")
        await transport.aclose()
        assert not http.closed
        with pytest.raises(TransportError, match="closed"):
            await transport.request("POST", "ok")
    own = ApiTransport(str(server.make_url("")), "meet")
    await own.request("POST", "ok")
    session = own.http
    await own.aclose()
    assert session.closed
