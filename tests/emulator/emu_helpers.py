"""Helpers for the emulator tests: a raw aiohttp client over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig
from pexbot.events.sse import SseParser

TIMEOUT = 10.0


class EventReader:
    """One open event stream; ``next(name)`` waits for the next event of that name."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.seen: list[tuple[str, Any]] = []
        self.ended = asyncio.Event()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        parser = SseParser()
        try:
            async for chunk in self.response.content.iter_any():
                for event in parser.feed(chunk):
                    item = (event.event, json.loads(event.data) if event.data else None)
                    self.seen.append(item)
                    self._queue.put_nowait(item)
        except (aiohttp.ClientError, asyncio.CancelledError):
            pass
        finally:
            self.ended.set()

    async def next(self, name: str | None = None, within: float = TIMEOUT) -> Any:
        """Data of the next event called ``name`` (earlier events of other names are skipped)."""
        async with asyncio.timeout(within):
            while True:
                event, data = await self._queue.get()
                if name is None or event == name:
                    return data if name else (event, data)

    async def drain(self, quiet: float = 0.3) -> list[tuple[str, Any]]:
        """Everything that arrives until ``quiet`` seconds pass without an event."""
        out = []
        while True:
            try:
                async with asyncio.timeout(quiet):
                    out.append(await self._queue.get())
            except TimeoutError:
                return out

    async def close(self) -> None:
        self.response.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Client:
    """A participant speaking the REST API with a raw aiohttp session."""

    def __init__(self, http: aiohttp.ClientSession, emu: Emulator, alias: str) -> None:
        self.http = http
        self.emu = emu
        self.alias = alias
        self.token = ""
        self.uuid = ""
        self.result: dict[str, Any] = {}
        self.readers: list[EventReader] = []

    @property
    def url(self) -> str:
        return self.emu.conference_url(self.alias)

    async def join(self, name: str = "bot", pin: str | None = None, **body: Any) -> dict[str, Any]:
        headers = {"pin": pin} if pin is not None else {}
        status, data = await self.raw_post("request_token", {"display_name": name, **body}, headers)
        assert status == 200, (status, data)
        self.result = data["result"]
        self.token = self.result["token"]
        self.uuid = self.result["participant_uuid"]
        return self.result

    async def raw_post(
        self,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        data: bytes | str | None = None,
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if data is not None:
            kwargs["data"] = data
        elif body is not None:
            kwargs["json"] = body
        async with self.http.post(f"{self.url}/{path}", **kwargs) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else None)

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.raw_post(path, body, {"token": self.token}, **kw)

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http.get(
            f"{self.url}/{path}", headers={"token": self.token}, params=params
        ) as resp:
            return resp.status, await resp.json()

    async def events(self, *, via_query: bool = False, synced: bool = True) -> EventReader:
        """Open an event stream; with ``synced`` wait past the initial roster sync."""
        if via_query:
            resp = await self.http.get(f"{self.url}/events", params={"token": self.token})
        else:
            resp = await self.http.get(f"{self.url}/events", headers={"token": self.token})
        assert resp.status == 200, resp.status
        reader = EventReader(resp)
        self.readers.append(reader)
        if synced:
            await reader.next("participant_sync_end")
        return reader

    async def close(self) -> None:
        for reader in self.readers:
            await reader.close()


def make_config(**kw: Any) -> EmulatorConfig:
    conferences = kw.pop(
        "conferences",
        [
            ConferenceConfig(aliases=["meet"], name="Meet", host_pin="1234", guest_pin="5678"),
            ConferenceConfig(aliases=["hostonly"], host_pin="1234"),
            ConferenceConfig(aliases=["open"], name="Open"),
        ],
    )
    return EmulatorConfig(conferences=conferences, **kw)


async def wait_for(predicate: Callable[[], bool], within: float = TIMEOUT) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (polls node state, not an event)
            await asyncio.sleep(0.02)
