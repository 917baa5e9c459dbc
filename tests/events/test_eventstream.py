"""EventStreamReader against a real aiohttp server on loopback, scripted per connection."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pexbot.errors import SessionEnded
from pexbot.events.sse import SseEvent, format_event
from pexbot.events.stream import EventStreamReader
from pexbot.signalling.backoff import Backoff

PATH = "/api/client/v2/conferences/meet.alice/events"
Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Attempt:
    token: str | None
    query: dict[str, str]
    last_event_id: str | None
    at: float


@dataclass
class ScriptedNode:
    """Serves the n-th connection with the n-th behaviour (the last one repeats)."""

    behaviours: list[Behaviour]
    attempts: list[Attempt] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts.append(
            Attempt(
                request.headers.get("token"),
                dict(request.query),
                request.headers.get("Last-Event-ID"),
                asyncio.get_running_loop().time(),
            )
        )
        index = min(len(self.attempts), len(self.behaviours)) - 1
        return await self.behaviours[index](request)


def event_bytes(name: str, data: object = None, event_id: str | None = None) -> bytes:
    return format_event(name, None if data is None else json.dumps(data), id=event_id)


def sync_events(tag: str, *uuids: str) -> list[bytes]:
    return [
        event_bytes("participant_sync_begin", event_id=f"{tag}-0"),
        *(event_bytes("participant_create", {"uuid": u, "display_name": u}) for u in uuids),
        event_bytes("participant_sync_end"),
    ]


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    return response


def stream_then(
    chunks: list[bytes], end: str, node_release: asyncio.Event | None = None
) -> Behaviour:
    """Send ``chunks`` one write each, then ``end``: "drop" (abort the TCP connection),
    "close" (finish the response cleanly) or "hold" (stay open until released)."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        response = await open_stream(request)
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(0.005)
        if end == "drop":
            assert request.transport is not None
            request.transport.abort()
        elif end == "hold":
            assert node_release is not None
            await asyncio.wait_for(node_release.wait(), 60)
        return response

    return behaviour


def status(code: int) -> Behaviour:
    async def behaviour(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, text="no")

    return behaviour


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def serve(node: ScriptedNode) -> TestServer:
    app = web.Application()
    app.router.add_get(PATH, node.handle)
    app.router.add_get("/elsewhere", status(200))
    server = TestServer(app)
    await server.start_server()
    return server


@dataclass
class Recorder:
    events: list[SseEvent] = field(default_factory=list)
    connected: list[int] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    got: asyncio.Event = field(default_factory=asyncio.Event)
    want: int = 0

    def on_event(self, event: SseEvent) -> None:
        self.events.append(event)
        if self.want and len(self.events) >= self.want:
            self.got.set()


def fast_backoff(initial: float = 0.01) -> Backoff:
    return Backoff(initial=initial, maximum=0.2, factor=2.0, jitter=0.0)


def reader(
    http: aiohttp.ClientSession,
    server: TestServer | str,
    rec: Recorder,
    token: Callable[[], str] = lambda: "tok",
    **kwargs: object,
) -> EventStreamReader:
    options: dict[str, object] = {"backoff": fast_backoff(), "max_attempts": 8} | kwargs
    url = server if isinstance(server, str) else str(server.make_url(PATH))
    return EventStreamReader(
        http,
        url,
        token,
        on_event=rec.on_event,
        on_connected=rec.connected.append,
        on_lost=rec.lost.append,
        **options,  # type: ignore[arg-type]
    )


async def test_reconnects_after_drops_and_delivers_each_event_once_per_connection(
    http: aiohttp.ClientSession,
) -> None:
    release = asyncio.Event()
    partial = b'event: participant_create\ndata: {"uuid": "half", "display_name": "h"}\n'
    node = ScriptedNode(
        [
            stream_then([*sync_events("c1", "a", "b"), partial], "drop"),
            stream_then([*sync_events("c2", "a"), event_bytes("stage", [])], "close"),
            stream_then(sync_events("c3", "a", "c"), "hold", release),
        ]
    )
    server = await serve(node)
    tokens = itertools.count(1)
    rec = Recorder(want=4 + 4 + 4)
    stream = reader(http, server, rec, token=lambda: f"tok-{next(tokens)}")
    task = asyncio.create_task(stream.run())
    try:
        await asyncio.wait_for(rec.got.wait(), 30)
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()

    names = [(e.event, json.loads(e.data)) for e in rec.events]
    create = "participant_create"
    assert names == [
        ("participant_sync_begin", None),
        (create, {"uuid": "a", "display_name": "a"}),
        (create, {"uuid": "b", "display_name": "b"}),
        ("participant_sync_end", None),
        # the half-sent event of connection 1 is never delivered
        ("participant_sync_begin", None),
        (create, {"uuid": "a", "display_name": "a"}),
        ("participant_sync_end", None),
        ("stage", []),
        ("participant_sync_begin", None),
        (create, {"uuid": "a", "display_name": "a"}),
        (create, {"uuid": "c", "display_name": "c"}),
        ("participant_sync_end", None),
    ]
    assert rec.connected == [1, 2, 3]
    assert len(rec.lost) == 2
    assert "closed" in rec.lost[1]
    # the CURRENT token, in the header, on every attempt; never in the URL
    assert [a.token for a in node.attempts] == ["tok-1", "tok-2", "tok-3"]
    assert all(a.query == {} for a in node.attempts)
    # the last event id carries over connections
    assert [a.last_event_id for a in node.attempts] == [None, "c1-0", "c2-0"]
    assert stream.connections == 3 and stream.delivered == 12


async def test_backoff_delays_are_applied_then_it_gives_up(http: aiohttp.ClientSession) -> None:
    node = ScriptedNode([status(503)])
    server = await serve(node)
    rec = Recorder()
    stream = reader(http, server, rec, backoff=fast_backoff(0.05), max_attempts=4)
    try:
        with pytest.raises(SessionEnded) as failure:
            await asyncio.wait_for(stream.run(), 30)
    finally:
        await server.close()
    assert (
        failure.value.reason
        == "event stream could not be opened: 4 attempts failed (last: HTTP 503)"
    )
    assert len(node.attempts) == 4
    gaps = [b.at - a.at for a, b in itertools.pairwise(node.attempts)]
    for gap, expected in zip(gaps, [0.05, 0.1, 0.2], strict=True):
        assert gap >= expected * 0.9, gaps  # lower bounds only: the machine may be slow
    assert rec.connected == [] and rec.lost == []


async def test_gives_up_after_max_reconnect_attempts_naming_the_last_failure(
    http: aiohttp.ClientSession,
) -> None:
    node = ScriptedNode([stream_then(sync_events("c1", "a"), "drop"), status(502)])
    server = await serve(node)
    rec = Recorder()
    try:
        with pytest.raises(SessionEnded) as failure:
            await asyncio.wait_for(reader(http, server, rec, max_attempts=3).run(), 30)
    finally:
        await server.close()
    assert failure.value.reason == "event stream lost: 3 reconnect attempts failed (last: HTTP 502)"
    assert len(node.attempts) == 1 + 3
    assert rec.connected == [1] and len(rec.lost) == 1 and len(rec.events) == 3


async def test_refused_token_ends_the_session_after_one_retry(http: aiohttp.ClientSession) -> None:
    node = ScriptedNode([stream_then(sync_events("c1", "a"), "close"), status(403)])
    server = await serve(node)
    rec = Recorder()
    try:
        with pytest.raises(SessionEnded) as failure:
            await asyncio.wait_for(reader(http, server, rec, max_attempts=8).run(), 30)
    finally:
        await server.close()
    assert "HTTP 403 on 2 consecutive attempts" in failure.value.reason
    assert len(node.attempts) == 1 + 2


async def test_one_refusal_then_success_keeps_going(http: aiohttp.ClientSession) -> None:
    release = asyncio.Event()
    node = ScriptedNode(
        [
            stream_then(sync_events("c1", "a"), "close"),
            status(403),  # a refresh raced with the reconnect
            stream_then(sync_events("c2", "a"), "hold", release),
        ]
    )
    server = await serve(node)
    rec = Recorder(want=6)
    task = asyncio.create_task(reader(http, server, rec).run())
    try:
        await asyncio.wait_for(rec.got.wait(), 30)
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()
    assert rec.connected == [1, 2]


async def test_node_that_accepts_and_closes_at_once_is_not_retried_forever(
    http: aiohttp.ClientSession,
) -> None:
    node = ScriptedNode([stream_then([], "close")])
    server = await serve(node)
    rec = Recorder()
    try:
        with pytest.raises(SessionEnded) as failure:
            await asyncio.wait_for(reader(http, server, rec, max_attempts=3).run(), 30)
    finally:
        await server.close()
    assert "stream closed before any event" in failure.value.reason
    assert len(node.attempts) == 3
    assert rec.connected == [1, 2, 3] and len(rec.lost) == 3  # every open is paired with a loss


async def test_unreachable_node(http: aiohttp.ClientSession) -> None:
    server = await serve(ScriptedNode([status(200)]))
    url = str(server.make_url(PATH))
    await server.close()  # nothing listens on that port any more
    rec = Recorder()
    with pytest.raises(SessionEnded) as failure:
        await asyncio.wait_for(reader(http, url, rec, max_attempts=2).run(), 30)
    assert failure.value.reason.startswith("event stream could not be opened: 2 attempts failed")
    assert "ClientConnectorError" in failure.value.reason


async def test_server_retry_field_raises_the_delay(http: aiohttp.ClientSession) -> None:
    release = asyncio.Event()
    node = ScriptedNode(
        [
            stream_then([b"retry: 400\n", *sync_events("c1", "a")], "drop"),
            stream_then(sync_events("c2", "a"), "hold", release),
        ]
    )
    server = await serve(node)
    rec = Recorder(want=6)
    task = asyncio.create_task(reader(http, server, rec, backoff=Backoff(initial=0.01)).run())
    try:
        await asyncio.wait_for(rec.got.wait(), 30)
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()
    assert node.attempts[1].at - node.attempts[0].at >= 0.35


async def test_redirects_are_not_followed(http: aiohttp.ClientSession) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/elsewhere")

    node = ScriptedNode([redirect])
    server = await serve(node)
    rec = Recorder()
    try:
        with pytest.raises(SessionEnded) as failure:
            await asyncio.wait_for(reader(http, server, rec, max_attempts=2).run(), 30)
    finally:
        await server.close()
    assert "HTTP 302" in failure.value.reason


async def test_failing_event_handler_does_not_cost_the_stream(
    http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    node = ScriptedNode([stream_then(sync_events("c1", "a", "b"), "hold", release)])
    server = await serve(node)
    seen: list[str] = []
    done = asyncio.Event()

    def on_event(event: SseEvent) -> None:
        seen.append(event.event)
        if len(seen) == 4:
            done.set()
        if event.event == "participant_create":
            raise RuntimeError("handler bug")

    stream = EventStreamReader(
        http,
        str(server.make_url(PATH)),
        lambda: "tok",
        on_event=on_event,
        on_connected=lambda n: None,
        on_lost=lambda reason: None,
        backoff=fast_backoff(),
    )
    task = asyncio.create_task(stream.run())
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()
    assert len(seen) == 4 and "handler bug" in caplog.text


async def test_cancel_while_connected_ends_cleanly(http: aiohttp.ClientSession) -> None:
    release = asyncio.Event()
    node = ScriptedNode([stream_then(sync_events("c1"), "hold", release)])
    server = await serve(node)
    rec = Recorder(want=2)
    task = asyncio.create_task(reader(http, server, rec).run())
    await asyncio.wait_for(rec.got.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    await server.close()
    assert rec.lost == []  # cancelling is not a loss
