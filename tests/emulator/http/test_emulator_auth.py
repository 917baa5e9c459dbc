"""Every participant request needs a valid token of its own conference, and a participant's
token opens only its own participant URLs (a host's acts on others only where the role table
allows). Walked over every route of the API, not a sample."""

from __future__ import annotations

from typing import Any

import aiohttp
from emu_helpers import Client
from test_emulator_http import OFFER, fill

from pexbot.emulator import Emulator
from pexbot.emulator.conference import policy
from pexbot.emulator.http.app import OPEN_ROUTES, all_routes

GUARDED = [s for s in all_routes(control_api=False) if s.name not in OPEN_ROUTES]


async def _world(client: Any) -> tuple[dict[str, Client], dict[str, str]]:
    """In ``meet``: guests alice and bob (bob with a call), host carol; a stranger in ``open``."""
    people = {"alice": client("meet"), "bob": client("meet"), "carol": client("meet")}
    await people["alice"].join("alice", pin="5678")
    await people["bob"].join("bob", pin="5678")
    await people["carol"].join("carol", pin="1234")
    people["stranger"] = client("open")
    await people["stranger"].join("stranger")
    bob = people["bob"]
    status, data = await bob.post(
        f"participants/{bob.uuid}/calls", {"call_type": "WEBRTC", "sdp": OFFER}
    )
    assert status == 200
    values = {
        "alias": "meet",
        "participant_uuid": bob.uuid,
        "call_uuid": data["result"]["call_uuid"],
        "breakout_uuid": "none",
        "mix": "m",
        "path": "x",
        "tail": "x",
    }
    return people, values


async def _ask(http: aiohttp.ClientSession, method: str, url: str, token: str | None) -> int:
    headers = {"token": token} if token is not None else {}
    async with http.request(method, url, headers=headers, json={}) as resp:
        await resp.read()
        return resp.status


async def test_every_route_refuses_a_missing_or_foreign_token(
    client: Any, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    people, values = await _world(client)
    checked = 0
    for spec in GUARDED:
        url = emu.base_url + fill(spec.full_path, values)
        # None, a made-up one, and a real token of another conference
        for token in (None, "not-a-token", people["stranger"].token):
            status = await _ask(http, spec.method, url, token)
            assert status == 403, (spec.name, token is None, status)
            checked += 1
    assert checked >= 3 * 60
    assert not [x for x in emu.traffic if x.status >= 500]


async def test_another_participants_token_opens_none_of_its_own_urls(
    client: Any, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    people, values = await _world(client)
    own = {
        s.name: (s, policy.rule_for(s.name))
        for s in GUARDED
        if "{participant_uuid}" in s.path
        and not s.name.startswith("breakout.")
        and policy.rule_for(s.name) in (policy.Rule.SELF, policy.Rule.SELF_OR_HOST)
    }
    assert len(own) >= 15
    for spec, rule in own.values():
        url = emu.base_url + fill(spec.full_path, values)  # bob's participant URL
        # alice is a guest: neither kind is hers; carol is a host: SELF ones are still bob's
        assert await _ask(http, spec.method, url, people["alice"].token) == 403, spec.name
        if rule is policy.Rule.SELF:
            assert await _ask(http, spec.method, url, people["carol"].token) == 403, spec.name
    assert not [x for x in emu.traffic if x.status >= 500]
