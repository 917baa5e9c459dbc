"""Token lifecycle: the pure schedule fed ``now``, and the keeper over loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any

import pytest
from aiohttp import web

from pexbot import wire
from pexbot.errors import SessionEnded
from pexbot.signalling.backoff import Backoff
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.token import TokenKeeper, TokenSchedule


def _backoff() -> Backoff:
    return Backoff(initial=0.2, maximum=30.0, jitter=0.0, rng=random.Random(1))


def test_schedule_refreshes_every_third_of_the_lifetime() -> None:
    schedule = TokenSchedule(120, now=1000.0, backoff=_backoff())
    assert schedule.delay(1000.0) == pytest.approx(40.0)
    assert not schedule.due(1039.9) and schedule.due(1040.0)
    schedule.on_success(1040.5)
    assert schedule.next_at == pytest.approx(1080.5)
    assert schedule.expires_at == pytest.approx(1160.5)
    schedule.on_success(1081.0, expires=60)  # the node shortened the lifetime
    assert schedule.next_at == pytest.approx(1101.0)


def test_schedule_backs_off_and_stops_at_expiry() -> None:
    schedule = TokenSchedule(120, now=0.0, backoff=_backoff())
    now = 40.0
    waits = []
    while not schedule.expired(now):
        wait = schedule.on_failure(now)
        assert wait >= 0.2  # never a tight loop
        waits.append(wait)
        now += wait
    # Exponential until the backoff would pass expiry, then halves of what is left.
    assert waits[:5] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2])
    assert len(waits) < 20
    assert schedule.failures == len(waits)
    schedule.on_success(now)
    assert schedule.failures == 0 and schedule.backoff.failures == 0


def test_schedule_refresh_now() -> None:
    schedule = TokenSchedule(120, now=0.0)
    schedule.refresh_now(5.0)
    assert schedule.due(5.0) and schedule.delay(5.0) == 0


class FakeNode:
    """refresh_token / release_token with a scripted answer per refresh."""

    def __init__(self) -> None:
        self.script: list[int] = []  # HTTP status per refresh; 200 once exhausted
        self.refreshes: list[float] = []
        self.tokens_seen: list[str | None] = []
        self.releases: list[dict[str, Any]] = []
        self.expires = "0.9"
        self.count = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/client/v2/conferences/meet/refresh_token", self.refresh)
        app.router.add_post("/api/client/v2/conferences/meet/release_token", self.release)
        return app

    async def refresh(self, request: web.Request) -> web.Response:
        self.refreshes.append(time.monotonic())
        self.tokens_seen.append(request.headers.get("token"))
        status = self.script.pop(0) if self.script else 200
        if status == 403:
            return web.json_response({"status": "success", "result": "Invalid token"}, status=403)
        if status != 200:
            return web.Response(text="unavailable", status=status)
        self.count += 1
        result = {"token": f"T{self.count}", "expires": self.expires, "role": "HOST"}
        return web.json_response({"status": "success", "result": result})

    async def release(self, request: web.Request) -> web.Response:
        self.releases.append({"token": request.headers.get("token"), "body": await request.json()})
        return web.json_response({"status": "success", "result": True})


def _info(expires: str) -> wire.RequestTokenResult:
    return wire.RequestTokenResult(
        token="T0",
        expires=expires,
        participant_uuid="p",
        display_name="bot",
        role="GUEST",
        version=wire.Version(),
        current_service_type="conference",
    )


async def _keeper(aiohttp_server: Any, node: FakeNode, expires: str) -> TokenKeeper:
    server = await aiohttp_server(node.app())
    transport = ApiTransport(str(server.make_url("")), "meet")
    return TokenKeeper(transport, _info(expires), backoff=_backoff(), release_timeout=2)


async def test_keeper_refreshes_on_schedule_with_the_latest_token(aiohttp_server: Any) -> None:
    node = FakeNode()
    keeper = await _keeper(aiohttp_server, node, "0.9")
    task = asyncio.create_task(keeper.run())
    await asyncio.sleep(2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Every 0.3 s for 2 s: about 6; a loaded machine may manage fewer, never many more.
    assert 3 <= keeper.refreshes <= 7, keeper.refreshes
    assert node.tokens_seen[: keeper.refreshes] == [f"T{i}" for i in range(keeper.refreshes)]
    assert keeper.token == f"T{keeper.refreshes}"
    await keeper.release("bye")
    await keeper.release("again")  # idempotent
    assert node.releases == [{"token": f"T{keeper.refreshes}", "body": {"reason": "bye"}}]
    with pytest.raises(SessionEnded, match="released"):
        _ = keeper.token
    await keeper._transport.aclose()


async def test_403_on_refresh_ends_at_once_without_retrying(aiohttp_server: Any) -> None:
    node = FakeNode()
    node.script = [403] * 50
    keeper = await _keeper(aiohttp_server, node, "30")
    keeper.request_refresh()  # the refresh_token server event: one refresh now
    started = time.monotonic()
    with pytest.raises(SessionEnded, match=r"refused on refresh.*Invalid token"):
        await asyncio.wait_for(keeper.run(), 10)
    assert time.monotonic() - started < 5
    assert len(node.refreshes) == 1  # the official client would spin here until expiry
    assert keeper.lost_reason is not None
    await keeper._transport.aclose()


async def test_transient_failures_back_off_then_recover(aiohttp_server: Any) -> None:
    node = FakeNode()
    node.script = [503, 502, 503]
    keeper = await _keeper(aiohttp_server, node, "6")
    keeper.request_refresh()
    task = asyncio.create_task(keeper.run())
    for _ in range(100):
        if keeper.refreshes:
            break
        await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert keeper.refreshes == 1 and len(node.refreshes) == 4
    gaps = [b - a for a, b in itertools.pairwise(node.refreshes)]
    # Backoff 0.2, 0.4, 0.8 s (no jitter): each gap at least its backoff, none a tight loop.
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38 and gaps[2] >= 0.75
    await keeper._transport.aclose()


async def test_token_expires_while_the_node_is_down(aiohttp_server: Any) -> None:
    node = FakeNode()
    node.script = [503] * 100
    keeper = await _keeper(aiohttp_server, node, "1.5")
    started = time.monotonic()
    with pytest.raises(SessionEnded, match="token expired"):
        await asyncio.wait_for(keeper.run(), 15)
    assert time.monotonic() - started >= 1.4
    assert 2 <= len(node.refreshes) <= 8
    await keeper._transport.aclose()


async def test_release_finishes_when_the_releaser_is_cancelled(aiohttp_server: Any) -> None:
    node = FakeNode()
    gate = asyncio.Event()
    original = node.release

    async def slow_release(request: web.Request) -> web.Response:
        gate.set()
        await asyncio.sleep(0.3)
        return await original(request)

    node.release = slow_release  # type: ignore[method-assign]
    keeper = await _keeper(aiohttp_server, node, "30")
    task = asyncio.create_task(keeper.release("cancelled"))
    await gate.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The cancelled releaser still waited for the request to complete.
    assert node.releases == [{"token": "T0", "body": {"reason": "cancelled"}}]
    await keeper._transport.aclose()
