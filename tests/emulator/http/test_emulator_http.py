"""HTTP-level behaviour: CORS, malformed input on every POST route, faults, static endpoints."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest
from emu_helpers import Client, wait_for

from pexbot.emulator import Emulator
from pexbot.emulator.http.app import all_routes

OFFER = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "content-type, token, pin",
}


def fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: values[m.group(1)], template)


async def test_cors_preflight_and_headers_everywhere(client: Any, emu: Emulator, http: Any) -> None:
    c = client("open")
    await c.join("c")
    origin = {"Origin": "http://page.example"}
    for path in (
        "status",
        "conferences/open/request_token",
        "conferences/open/events",
        f"conferences/open/participants/{c.uuid}/mute",
        "conferences/x/nope/nope",
    ):
        async with http.options(f"{emu.base_url}/api/client/v2/{path}", headers=origin) as resp:
            assert 200 <= resp.status < 300, path
            for key, value in CORS.items():
                assert resp.headers[key] == value, (path, key)
    cases = [
        ("GET", "status", {}),  # 200
        ("POST", "conferences/meet/request_token", {}),  # 400 (no body)
        ("GET", f"conferences/open/participants/{c.uuid}/nothing", {}),  # 404
        ("GET", "conferences/open/conference_status", {}),  # 403 (no token)
        ("GET", "conferences/open/events", {"token": c.token}),  # the event stream
    ]
    for method, path, headers in cases:
        async with http.request(
            method, f"{emu.base_url}/api/client/v2/{path}", headers={**origin, **headers}
        ) as resp:
            assert resp.headers["Access-Control-Allow-Origin"] == "*", path
            if path.endswith("events"):
                assert resp.content_type == "text/event-stream"


async def test_theme_with_token_header_and_resources(client: Any, http: Any) -> None:
    c = client("open")
    await c.join("c")
    status, data = await c.get("theme/")
    assert status == 200
    assert set(data["result"]) == {
        "direct_media_welcome",
        "direct_media_waiting_for_host",
        "direct_media_other_participants_audio_only",
        "direct_media_escalate",
        "direct_media_deescalate",
    }
    path = data["result"]["direct_media_welcome"]["background"]["path"]
    async with http.get(f"{c.url}/theme/{path}", params={"token": c.token}) as resp:
        assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"
    async with http.get(f"{c.url}/theme/{path}") as resp:
        assert resp.status == 403
    status, data = await c.get("available_layouts")
    assert status == 200 and "1:7" in data["result"]
    status, data = await c.get("available_layouts", annotate="true")
    assert {"name", "tags"} <= set(data["result"][0])
    status, data = await c.get("layout_svgs")
    assert data["result"]["1:7"].startswith("<svg")
    async with http.get(
        f"{c.url}/participants/{c.uuid}/avatar.jpg", headers={"token": c.token}
    ) as r:
        assert r.status == 200 and r.content_type == "image/jpeg"
    async with http.get(f"{c.url}/participants/nobody/avatar.jpg", headers={"token": c.token}) as r:
        assert r.status == 404


async def fuzz_world(client: Any, on: Emulator | None = None) -> tuple[Client, dict[str, str]]:
    """A host with a live call, a waiting guest, a breakout and a video mix to aim at."""
    host, guest = client("open", on=on), client("open", on=on)
    await host.join("host")
    await guest.join("guest")
    status, data = await host.post(
        f"participants/{host.uuid}/calls", {"call_type": "WEBRTC", "sdp": OFFER}
    )
    assert status == 200
    call = data["result"]["call_uuid"]
    status, data = await host.post("breakouts", {"name": "b"})
    breakout = data["result"]["breakout_uuid"]
    await host.post("video_mixes/create", {"mix_name": "m"})
    values = {
        "alias": "open",
        "participant_uuid": host.uuid,
        "call_uuid": call,
        "breakout_uuid": breakout,
        "mix": "m",
    }
    return host, values


POST_ROUTES = [s for s in all_routes(control_api=False) if s.method == "POST"]
MALFORMED = [b"{", b"[1, 2]", b'"text"', b"42", b"\xff\xfe", b"[" * 50_000 + b"]" * 50_000]


async def test_malformed_input_to_every_post_route_is_4xx(client: Any, emu: Emulator) -> None:
    host, values = await fuzz_world(client)
    # breakout-scoped participant routes act on a participant inside the breakout
    conference = emu.node.conference_by_alias("open")
    assert conference is not None
    room = conference.breakouts[values["breakout_uuid"]]
    control = next(iter(room.participants))
    status, data = await host.post(
        f"breakouts/{values['breakout_uuid']}/participants/{control}/calls",
        {"call_type": "WEBRTC", "sdp": OFFER},
    )
    assert status == 200
    control_call = data["result"]["call_uuid"]
    checked = 0
    for spec in POST_ROUTES:
        local = dict(values)
        if spec.name.startswith("breakout.participant."):
            local["participant_uuid"] = control
            local["call_uuid"] = control_call
        path = fill(spec.full_path, local).split("/conferences/open/", 1)[1]
        bodies: list[bytes] = list(MALFORMED)
        if spec.body is not None:
            bodies.append(json.dumps(_wrong_types(spec.body)).encode())
            if any(f.is_required() for f in spec.body.model_fields.values()):
                bodies.append(b"{}")
        for raw in bodies:
            status, data = await host.post(path, data=raw)
            assert status == 400, (spec.name, raw, status, data)
            assert data["status"] == "failed" and isinstance(data["result"], str), spec.name
            checked += 1
    assert checked > 500
    assert not [x for x in emu.traffic if x.status >= 500]


def _wrong_types(model: Any) -> dict[str, Any]:
    """Every field of a body model with a value of a type it does not accept."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        text = str(field.annotation)
        takes_text = "str" in text or "Literal" in text
        out[field.alias or name] = 1 if takes_text and "list" not in text else "abc"
    return out


async def test_unknown_uuids_are_404(client: Any) -> None:
    c = client("open")
    await c.join("c")
    status, data = await c.post("participants/nobody/mute")
    assert (status, data) == (404, {"status": "failed", "result": "Participant not found"})
    assert (await c.post(f"participants/{c.uuid}/calls/nocall/ack", {}))[0] == 404
    assert (await c.post("breakouts/nobreakout/lock"))[0] == 404
    assert (await c.post("no_such_function"))[0] == 404
    assert (await c.get("dial"))[0] == 405


async def test_fault_drop_streams_then_resync(client: Any, emu: Emulator) -> None:
    a, b = client("open"), client("open")
    await a.join("a")
    await b.join("b")
    ra, rb = await a.events(), await b.events()
    assert emu.faults.drop_streams(a.uuid) == 1
    await asyncio.wait_for(ra.ended.wait(), 5)
    assert not rb.ended.is_set()
    again = await a.events(synced=False)
    assert (await again.next())[0] == "participant_sync_begin"
    assert emu.faults.drop_streams() == 2
    await asyncio.wait_for(rb.ended.wait(), 5)
    await asyncio.wait_for(again.ended.wait(), 5)


async def test_fault_fail_and_delay_next(client: Any, emu: Emulator) -> None:
    c = client("open")
    await c.join("c")
    emu.faults.fail_next(2, status=502, path_contains="conference_status")
    for _ in range(2):
        assert await c.get("conference_status") == (
            502,
            {"status": "failed", "result": "Injected fault"},
        )
    assert (await c.get("participants"))[0] == 200  # not matching: untouched
    assert (await c.get("conference_status"))[0] == 200  # used up
    emu.faults.delay_next(1, delay=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await c.get("participants"))[0] == 200
    assert loop.time() - started >= 0.25
    assert emu.faults.pending == 0


async def test_fault_expire_tokens_early(client: Any, emu: Emulator) -> None:
    a, b = client("open"), client("open")
    await a.join("a")
    await b.join("b")
    ra = await a.events()
    emu.faults.expire_tokens(b.uuid)
    assert await ra.next("participant_delete") == {"uuid": b.uuid}
    assert (await b.get("participants"))[0] == 403
    emu.faults.expire_tokens()
    assert await ra.next("disconnect") == {"reason": "Token expired"}
    assert not emu.node.participants


async def test_faults_over_the_control_api(client: Any, emu: Emulator, http: Any) -> None:
    c = client("open")
    await c.join("c")
    reader = await c.events()
    base = f"{emu.base_url}/emulator"

    async def control(path: str, body: dict[str, Any]) -> Any:
        async with http.post(f"{base}/faults/{path}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["result"]

    await control("fail", {"count": 1, "status": 503, "path_contains": "participants"})
    assert (await c.get("participants"))[0] == 503
    assert await control("drop_streams", {}) == 1
    await asyncio.wait_for(reader.ended.wait(), 5)
    await control("maintenance", {"enabled": True})
    async with http.get(f"{emu.base_url}/api/client/v2/status") as resp:
        assert resp.status == 503
    await control("clear", {})
    assert not emu.faults.maintenance
    await control("expire_tokens", {"participant_uuid": c.uuid})
    await wait_for(lambda: c.uuid not in emu.node.participants)
    async with http.post(f"{base}/faults/fail", json={"count": "many"}) as resp:
        assert resp.status == 400
    async with http.get(f"{base}/traffic") as resp:
        records = (await resp.json())["result"]
        assert any(r["endpoint"] == "conference.participants" for r in records)
        assert all("token" not in r["query"] for r in records)


@pytest.mark.parametrize("alias", ["open"])
async def test_traffic_redacts_secrets(client: Any, emu: Emulator, alias: str) -> None:
    c = client("meet")
    await c.join("h", pin="1234")
    exchange = emu.traffic.find("token.request")[-1]
    assert "pin" not in exchange.request_headers
    assert exchange.response_json["result"]["token"] == "<redacted>"
    assert c.token not in repr(list(emu.traffic))
    emu.traffic.clear()
    assert len(emu.traffic) == 0


async def test_many_emulators_share_nothing(emu_factory: Any, http: aiohttp.ClientSession) -> None:
    one, two = await emu_factory(), await emu_factory()
    a = Client(http, one, "open")
    await a.join("a")
    b = Client(http, two, "open")
    b.token = a.token
    assert (await b.get("participants"))[0] == 403
    assert len(one.node.participants) == 1 and not two.node.participants
    await one.aclose()
    assert (await Client(http, two, "open").join("x"))["role"] == "HOST"
