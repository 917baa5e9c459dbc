"""request_token variants, refresh, expiry and release over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from emu_helpers import Client, make_config, wait_for

from pexbot.emulator import ConferenceConfig, Emulator, IdpConfig

VERSION = {"version_id": "36", "pseudo_version": "77777.0.0"}


async def test_status_ok_and_maintenance(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emu.base_url}/api/client/v2/status") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "success", "result": "OK"}
    emu.faults.maintenance = True
    async with http.get(f"{emu.base_url}/api/client/v2/status") as resp:
        assert resp.status == 503
        assert await resp.json() == {"status": "failed", "result": "Maintenance mode"}


async def test_request_token_in_maintenance_is_503(emu: Emulator, client: Any) -> None:
    emu.faults.set_maintenance(True)
    status, data = await client("open").raw_post("request_token", {"display_name": "x"})
    assert (status, data) == (503, {"status": "failed", "result": "Maintenance mode"})


async def test_pin_rules_host_and_guest_pins(client: Any) -> None:
    c: Client = client("meet")
    status, data = await c.raw_post("request_token", {"display_name": "a"})
    assert status == 403
    assert data == {
        "status": "success",
        "result": {"pin": "required", "guest_pin": "required", "version": VERSION},
    }
    # 'none' does not make a guest when a guest PIN exists: the challenge again
    status, data = await c.raw_post("request_token", {"display_name": "a"}, {"pin": "none"})
    assert status == 403 and data["result"]["guest_pin"] == "required"
    status, data = await c.raw_post("request_token", {"display_name": "a"}, {"pin": "9999"})
    assert (status, data) == (403, {"status": "success", "result": "Invalid PIN"})
    host = await c.join("host", pin="1234")
    assert host["role"] == "HOST" and host["current_service_type"] == "conference"
    guest = await client("meet").join("guest", pin="5678")
    assert guest["role"] == "GUEST"
    assert guest["conference_name"] == "Meet" and guest["version"] == VERSION


async def test_pin_rules_host_pin_only(client: Any) -> None:
    status, data = await client("hostonly").raw_post("request_token", {"display_name": "a"})
    assert (status, data["result"]["pin"], data["result"]["guest_pin"]) == (403, "required", "none")
    assert (await client("hostonly").join("g", pin="none"))["role"] == "GUEST"
    assert (await client("hostonly").join("h", pin="1234"))["role"] == "HOST"


async def test_no_pin_everyone_is_host_and_result_shape(client: Any) -> None:
    result = await client("open").join(
        "x",
        call_tag="tag1",
        chosen_idp="none",
        sso_token="none",
        sso_redirect_target="https://x/client.htmlm/?a=1",
        node="localhost",
        supports_direct_chat=False,
        direct_media=True,
    )
    assert result["role"] == "HOST"
    assert result["expires"] == "120" and result["call_tag"] == "tag1"
    assert "stun" not in result  # an empty stun list breaks Chromium
    assert result["display_name"] == "x" and result["service_type"] == "conference"


async def test_unknown_alias_default_vmr_and_404(emu_factory: Any, http: Any) -> None:
    on = await emu_factory()
    result = await Client(http, on, "anything-goes").join("x")
    assert result["role"] == "HOST" and result["conference_name"] == "anything-goes"
    off = await emu_factory(make_config(default_vmr=False))
    status, data = await Client(http, off, "nope").raw_post("request_token", {"display_name": "x"})
    assert (status, data) == (
        404,
        {"status": "failed", "result": "Neither conference nor gateway found"},
    )


async def test_virtual_reception(emu_factory: Any, http: Any) -> None:
    conferences = [
        ConferenceConfig(aliases=["meet"], host_pin="1234"),
        ConferenceConfig(aliases=["other"]),
        ConferenceConfig(aliases=["vr"], virtual_reception=True, targets=["meet"]),
    ]
    emu = await emu_factory(make_config(conferences=conferences))
    c = Client(http, emu, "vr")
    status, data = await c.raw_post("request_token", {"display_name": "x"})
    assert (status, data["result"]) == (
        403,
        {"conference_extension": "required", "conference_extension_type": "standard"},
    )
    status, data = await c.raw_post(
        "request_token", {"display_name": "x", "conference_extension": "meet"}
    )
    assert status == 403 and data["result"]["pin"] == "required"
    assert data["result"]["conference_extension"] == "standard"
    status, _ = await c.raw_post(
        "request_token", {"display_name": "x", "conference_extension": "other"}
    )
    assert status == 404  # not one of this reception's targets
    joined = await c.join("x", pin="1234", conference_extension="meet")
    assert joined["role"] == "HOST"
    meet = emu.node.conference_by_alias("meet")
    assert meet is not None and joined["participant_uuid"] in meet.main.participants
    # the token works on the reception alias it joined through
    assert (await c.get("conference_status"))[0] == 200


async def test_sso_three_steps(emu_factory: Any, http: aiohttp.ClientSession) -> None:
    idp = IdpConfig(uuid="4fe19459-67b4-4e84-abb4-a3765a0a7e09", name="Example IdP")
    emu = await emu_factory(
        make_config(conferences=[ConferenceConfig(aliases=["sso"], idps=[idp])])
    )
    c = Client(http, emu, "sso")
    status, data = await c.raw_post("request_token", {"display_name": "x", "chosen_idp": "none"})
    assert (status, data["result"]) == (
        403,
        {"idp": [{"name": "Example IdP", "uuid": idp.uuid, "img": ""}], "version": VERSION},
    )
    status, data = await c.raw_post("request_token", {"display_name": "x", "chosen_idp": idp.uuid})
    assert status == 403 and data["result"]["redirect_idp"] == {
        "name": "Example IdP",
        "uuid": idp.uuid,
    }
    redirect = data["result"]["redirect_url"]
    assert redirect.startswith(f"{emu.base_url}/emulator/sso?")
    status, _ = await c.raw_post("request_token", {"display_name": "x", "sso_token": "forged"})
    assert status == 403
    async with http.get(redirect) as resp:
        assert resp.status == 200
        sso_token = (await resp.json())["result"]["sso_token"]
    result = await c.join("x", sso_token=sso_token)
    assert result["idp_uuid"] == idp.uuid
    participant = emu.node.participants[result["participant_uuid"]]
    assert participant.idp_uuid == idp.uuid


async def test_malformed_request_token_is_400(client: Any) -> None:
    c = client("open")
    cases: list[dict[str, Any]] = [
        {"data": "{"},
        {"data": "[1]"},
        {"body": {}},
        {"body": {"display_name": 5}},
    ]
    for kwargs in cases:
        status, data = await c.raw_post(
            "request_token", kwargs.get("body"), data=kwargs.get("data")
        )
        assert status == 400, kwargs
        assert data["status"] == "failed" and isinstance(data["result"], str)


async def test_refresh_gives_new_token_and_old_dies_after_grace(
    emu_factory: Any, http: Any
) -> None:
    emu = await emu_factory(refresh_grace=0.5)
    c = Client(http, emu, "open")
    await c.join("x")
    old = c.token
    status, data = await c.post("refresh_token")
    assert status == 200 and data["result"]["expires"] == "120"
    new = data["result"]["token"]
    assert new != old
    assert (await c.get("conference_status"))[0] == 200  # old still inside its grace
    await asyncio.sleep(0.8)
    assert (await c.get("conference_status")) == (
        403,
        {"status": "failed", "result": "Invalid token"},
    )
    c.token = new
    assert (await c.get("conference_status"))[0] == 200
    c.token = "not-a-token"
    assert (await c.post("refresh_token"))[0] == 403


async def test_expired_participant_is_removed(emu_factory: Any, http: Any) -> None:
    emu = await emu_factory(token_lifetime=1.0, expiry_sweep_interval=0.1)
    watcher, leaver = Client(http, emu, "open"), Client(http, emu, "open")
    await watcher.join("watcher")
    await leaver.join("leaver")
    assert leaver.result["expires"] == "1"
    events = await watcher.events()
    own = await leaver.events()
    for _ in range(3):  # keep the watcher alive by refreshing
        await asyncio.sleep(0.4)
        status, data = await watcher.post("refresh_token")
        assert status == 200
        watcher.token = data["result"]["token"]
    assert await events.next("participant_delete") == {"uuid": leaver.uuid}
    assert await own.next("disconnect") == {"reason": "Token expired"}
    assert (await leaver.get("participants"))[0] == 403
    assert leaver.uuid not in emu.node.participants
    await watcher.close()
    await leaver.close()


async def test_release_token_removes_participant(client: Any, emu: Emulator) -> None:
    a, b = client("open"), client("open")
    await a.join("a")
    await b.join("b")
    events = await a.events()
    status, data = await b.post("release_token", {"reason": "User initiated disconnect"})
    assert (status, data) == (200, {"status": "success", "result": True})
    assert await events.next("participant_delete") == {"uuid": b.uuid}
    assert (await b.post("release_token"))[0] == 403
    assert emu.node.released[-1] == (b.uuid, "User initiated disconnect")


async def test_release_token_via_query_like_send_beacon(
    client: Any, emu: Emulator, http: Any
) -> None:
    a = client("open")
    await a.join("a")
    async with http.post(f"{a.url}/release_token", params={"token": a.token}) as resp:
        assert resp.status == 200
    await wait_for(lambda: a.uuid not in emu.node.participants)


async def test_token_is_bound_to_its_conference(client: Any) -> None:
    a = client("open")
    await a.join("a")
    other = client("meet")
    other.token = a.token
    assert (await other.get("conference_status"))[0] == 403
    a.token = ""
    assert (await a.get("conference_status"))[0] == 403


async def test_transfer_refer_then_one_time_token_joins_target(client: Any, emu: Emulator) -> None:
    host, guest = client("open"), client("open")
    await host.join("host")
    await guest.join("guest")
    events = await guest.events()
    status, _ = await host.post(
        f"participants/{guest.uuid}/transfer",
        {"role": "guest", "conference_alias": "meet", "pin": "5678"},
    )
    assert status == 200
    refer = await events.next("refer")
    assert refer["alias"] == "meet" and refer["token"]
    assert guest.uuid not in emu.node.participants
    moved = client("meet")
    result = await moved.join("guest", token=refer["token"])
    assert result["role"] == "GUEST"
    again = client("meet")
    status, _ = await again.raw_post(
        "request_token", {"display_name": "x", "token": refer["token"]}
    )
    assert status == 403  # one-time
    status, data = await host.post(
        f"participants/{host.uuid}/transfer",
        {"role": "host", "conference_alias": "meet", "pin": "0"},
    )
    assert (status, data["result"]) == (403, "Invalid PIN")
