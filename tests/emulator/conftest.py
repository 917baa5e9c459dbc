"""Fixtures for the emulator tests (helpers live in emu_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from emu_helpers import Client, make_config

from pexbot.emulator import Emulator, EmulatorConfig


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def emu_factory() -> AsyncIterator[Callable[..., Any]]:
    started: list[Emulator] = []

    async def factory(config: EmulatorConfig | None = None, **kw: Any) -> Emulator:
        # Signalling tests: no aiortc peers behind their hand-written SDP.
        emu = Emulator(config or make_config(**kw), media="none")
        await emu.start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        await emu.aclose()


@pytest.fixture
async def emu(emu_factory: Callable[..., Any]) -> Emulator:
    result: Emulator = await emu_factory()
    return result


@pytest.fixture
async def client(
    http: aiohttp.ClientSession, emu: Emulator
) -> AsyncIterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(alias: str = "meet", on: Emulator | None = None) -> Client:
        made.append(Client(http, on or emu, alias))
        return made[-1]

    yield make
    for c in made:
        await c.close()
