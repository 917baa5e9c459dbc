"""Shared helpers of the client/session tests that run against the real emulator on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig, IdpConfig
from pexbot.events import Event

# Six digits: no port number or short id can contain them by chance.
HOST_PIN = "918273"
GUEST_PIN_VALUE = "564738"
IDP_UUID = "6f2c0c8e-5b7a-4d7e-9a51-0c7c2f1e9d01"


def conferences() -> list[ConferenceConfig]:
    return [
        ConferenceConfig(aliases=["open"], name="Open room"),
        ConferenceConfig(aliases=["pinned"], name="Host PIN room", host_pin=HOST_PIN),
        ConferenceConfig(
            aliases=["both"], name="Two PIN room", host_pin=HOST_PIN, guest_pin=GUEST_PIN_VALUE
        ),
        ConferenceConfig(
            aliases=["reception"], name="Reception", virtual_reception=True, targets=["pinned"]
        ),
        ConferenceConfig(
            aliases=["sso"], name="SSO room", idps=[IdpConfig(uuid=IDP_UUID, name="Example IdP")]
        ),
        ConferenceConfig(aliases=["short"], name="Short tokens", token_lifetime=3),
    ]


@contextlib.asynccontextmanager
async def emulator(**overrides: Any) -> AsyncIterator[Emulator]:
    config = EmulatorConfig(conferences=conferences(), **overrides)
    async with Emulator(config, port=0) as emu:
        yield emu


def url(emu: Emulator) -> str:
    return str(emu.base_url)


async def wait_for(
    predicate: Callable[[], bool], within: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true; generous timeouts for a loaded machine."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


class Recorder:
    """Collects a session's events through a sync callback."""

    def __init__(self, session: Session) -> None:
        self.events: list[Event] = []
        self.subscription = session.on(None, self.events.append)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait(self, kind: type[Any], count: int = 1, within: float = 10.0) -> list[Any]:
        await wait_for(lambda: len(self.of(kind)) >= count, within, f"{count} {kind.__name__}")
        return self.of(kind)
