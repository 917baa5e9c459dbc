"""request_token: what is sent, and every refusal as a typed outcome (pure + loopback HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from pexbot.errors import (
    BadRequest,
    ConferenceNotFound,
    ExtensionRequired,
    IdpRequired,
    InvalidPin,
    JoinDenied,
    NodeUnavailable,
    PinRequired,
    SsoRedirectRequired,
    TransportError,
    UnexpectedResponse,
)
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.join import GUEST_PIN, JoinRequest, refusal, request_token

VERSION = {"version_id": "37", "pseudo_version": "1.0"}


def test_pin_challenges_say_which_pins_exist() -> None:
    host_only = refusal(403, {"pin": "required", "guest_pin": "none", "version": VERSION})
    assert isinstance(host_only, PinRequired)
    assert host_only.host_pin and not host_only.guest_pin
    assert "pin='none'" in str(host_only)  # tells the caller how to join as a guest
    both = refusal(403, {"pin": "required", "guest_pin": "required", "version": VERSION})
    assert isinstance(both, PinRequired) and both.host_pin and both.guest_pin


def test_every_403_shape_is_typed() -> None:
    assert isinstance(refusal(403, "Invalid PIN"), InvalidPin)
    ext = refusal(403, {"conference_extension": "required", "conference_extension_type": "mssip"})
    assert isinstance(ext, ExtensionRequired) and ext.kind == "mssip"
    idps = [{"name": "Entra", "uuid": "u1", "img": ""}, {"name": "ADFS", "uuid": "u2"}]
    idp = refusal(403, {"idp": idps, "version": VERSION})
    assert isinstance(idp, IdpRequired) and idp.idps == [("u1", "Entra"), ("u2", "ADFS")]
    redirect = refusal(
        403,
        {
            "redirect_url": "https://idp.example/sso?SAMLRequest=x",
            "redirect_idp": {"name": "Entra", "uuid": "u1"},
            "version": VERSION,
        },
    )
    assert isinstance(redirect, SsoRedirectRequired)
    assert redirect.redirect_url.startswith("https://idp.example/") and redirect.idp_uuid == "u1"
    denied = refusal(403, "Conference locked")
    assert isinstance(denied, JoinDenied) and denied.reason == "Conference locked"
    assert isinstance(refusal(415, "Unsupported client"), JoinDenied)
    assert isinstance(refusal(403, {"something": "else"}), JoinDenied)


def test_other_statuses() -> None:
    assert isinstance(refusal(404, "Neither conference nor gateway found"), ConferenceNotFound)
    for status in (502, 503, 504, 529):
        assert isinstance(refusal(status, "Maintenance mode"), NodeUnavailable)
    assert isinstance(refusal(400, "bad"), BadRequest)
    assert isinstance(refusal(500, None), UnexpectedResponse)


def test_join_request_repr_hides_secrets() -> None:
    request = JoinRequest("bot", pin="4321", sso_token="sso-SECRET", join_token="ticket-SECRET")
    text = repr(request)
    assert "4321" not in text and "SECRET" not in text and "bot" in text


def _node(seen: list[dict[str, Any]]) -> web.Application:
    """A node with host PIN 1111 and no guest PIN; alias 'gone' does not exist."""

    async def request_token(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"pin": request.headers.get("pin"), "body": body})
        alias = request.match_info["alias"]
        if alias == "gone":
            return web.json_response({"status": "success", "result": "Not found"}, status=404)
        if alias == "busy":
            return web.json_response({"status": "failed", "result": "Maintenance"}, status=503)
        pin = request.headers.get("pin")
        if pin is None:
            result = {"pin": "required", "guest_pin": "none", "version": VERSION}
            return web.json_response({"status": "success", "result": result}, status=403)
        if pin not in ("1111", "none"):
            return web.json_response({"status": "success", "result": "Invalid PIN"}, status=403)
        result = {
            "token": "TOKEN-SECRET",
            "expires": "120",
            "participant_uuid": "p-1",
            "display_name": body["display_name"],
            "role": "HOST" if pin == "1111" else "GUEST",
            "version": VERSION,
            "current_service_type": "conference",
            "some_new_field": 1,
        }
        return web.json_response({"status": "success", "result": result})

    app = web.Application()
    app.router.add_post("/api/client/v2/conferences/{alias}/request_token", request_token)
    return app


async def test_request_token_over_http(aiohttp_server: Any) -> None:
    seen: list[dict[str, Any]] = []
    server = await aiohttp_server(_node(seen))
    base = str(server.make_url(""))
    transport = ApiTransport(base, "meet")
    try:
        with pytest.raises(PinRequired) as need:
            await request_token(transport, JoinRequest("bot", call_tag="t1", direct_media=True))
        assert need.value.host_pin and not need.value.guest_pin
        assert seen[-1] == {
            "pin": None,
            "body": {"display_name": "bot", "call_tag": "t1", "direct_media": True},
        }
        with pytest.raises(InvalidPin):
            await request_token(transport, JoinRequest("bot", pin="2222"))
        info = await request_token(transport, JoinRequest("bot", pin="1111"))
        assert info.role == "HOST" and info.participant_uuid == "p-1" and transport.role == "HOST"
        assert "TOKEN-SECRET" not in repr(info)
        guest = await request_token(transport, JoinRequest("bot", pin=GUEST_PIN))
        assert guest.role == "GUEST" and seen[-1]["pin"] == "none"
        body = seen[-1]["body"]
        assert body == {"display_name": "bot", "direct_media": False}
        assert json.dumps(body).find("1111") == -1
    finally:
        await transport.aclose()
    for alias, error in (("gone", ConferenceNotFound), ("busy", NodeUnavailable)):
        other = ApiTransport(base, alias)
        try:
            with pytest.raises(error):
                await request_token(other, JoinRequest("bot"))
        finally:
            await other.aclose()


async def test_request_token_unreachable() -> None:
    transport = ApiTransport("http://127.0.0.1:9", "meet", timeout=5)
    try:
        with pytest.raises(TransportError, match=r"http://127\.0\.0\.1:9"):
            await request_token(transport, JoinRequest("bot", pin="1111"))
    finally:
        await transport.aclose()
