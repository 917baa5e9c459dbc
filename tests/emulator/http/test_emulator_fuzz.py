"""Fuzzing the emulator's request handling: bodies generated from Pexip's own request schemas
(tests/schema_strategy.py: hypothesis-jsonschema's latest release fails against current
hypothesis) and at random, posted to every endpoint that takes one, each against
a fresh world (a host with a live call, a breakout room, a video mix). Every answer is a 2xx or
a 4xx with a reason in the envelope, never a 500 or a dropped connection."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import pytest
from emu_helpers import Client
from fuzzing import EXAMPLES, json_values
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schema_check import PREFIX, SchemaBook
from schema_strategy import strategy_for
from test_emulator_http import fuzz_world

from pexbot.emulator import Emulator

BOOK = SchemaBook()
ENDPOINTS = [e for e in BOOK.endpoints if e.body_validator and e.method == "POST"]
#: per endpoint: CI draws a few dozen; PEXBOT_FUZZ_EXAMPLES=100000 makes it a soak
PER_ENDPOINT = max(8, EXAMPLES // 16)


def draw(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    """``count`` values of ``strategy``, reproducibly (the same ones in CI as on a laptop)."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=count <= 5_000,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    collect()
    return found


def bodies_for(validator: str, seed: int) -> list[Any]:
    from_pexip = draw(strategy_for(BOOK.schema(validator)), PER_ENDPOINT, seed)
    return from_pexip + draw(json_values(), PER_ENDPOINT // 2, seed)


async def _world(client: Any, emu: Emulator) -> tuple[Client, dict[str, str]]:
    host, values = await fuzz_world(client, on=emu)
    return host, {
        "conferenceAlias": values["alias"],
        "participantUuid": values["participant_uuid"],
        "callUuid": values["call_uuid"],
        "breakoutUuid": values["breakout_uuid"],
        "mixName": values["mix"],
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.function for e in ENDPOINTS])
async def test_generated_bodies_never_break_the_node(
    endpoint: Any, emu_factory: Any, client: Any, http: aiohttp.ClientSession
) -> None:
    emu: Emulator = await emu_factory()
    host, values = await _world(client, emu)
    path = endpoint.template
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    url = emu.base_url + PREFIX.replace("{conferenceAlias}", "open") + path
    bodies = bodies_for(endpoint.body_validator, seed=len(endpoint.function))
    assert len(bodies) >= 3  # a schema of one boolean has only so many bodies
    statuses: dict[int, int] = {}
    for body in bodies:
        async with http.post(url, json=body, headers={"token": host.token}) as resp:
            data = await resp.json(content_type=None) if resp.content_length != 0 else None
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            assert resp.status < 500, (endpoint.function, body, resp.status, data)
            if resp.status >= 400:
                assert isinstance(data, dict) and isinstance(data.get("result"), str), data
    assert not [x for x in emu.traffic if x.status >= 500]


def test_drawn_bodies_are_what_the_schemas_describe() -> None:
    # The generator must hit the schemas, or the fuzzing above would only ever test refusals.
    for endpoint in ENDPOINTS:
        assert endpoint.body_validator is not None
        drawn = draw(strategy_for(BOOK.schema(endpoint.body_validator)), 20, seed=1)
        assert drawn, endpoint.function
        for body in drawn:
            assert BOOK.errors(endpoint.body_validator, body) == [], (endpoint.function, body)


def test_every_schema_with_a_body_is_fuzzed() -> None:
    assert len(ENDPOINTS) >= 40
    if os.environ.get("CI"):
        # The schemas are the project's oracle here: a CI without them would fuzz nothing.
        assert BOOK.directory.is_dir()
