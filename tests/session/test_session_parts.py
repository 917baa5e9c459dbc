"""The session's parts on their own, without a session, a node or a peer connection: the access
part (what joining produced, the API objects) and the media part (starting a call, its chat,
statistics and token refreshes), each handed light fakes or real light objects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from pexbot import Session, wire
from pexbot.call.media_call import CallOptions
from pexbot.call.slot import CallSlot
from pexbot.call.stats import stats_interval_seconds
from pexbot.errors import CallError, SessionEnded
from pexbot.events import Event, MessageReceived
from pexbot.events.dispatch import EventDispatcher
from pexbot.events.state import ConferenceState
from pexbot.rtc.datachannel import ChatMessage
from pexbot.session.access import SessionAccess
from pexbot.session.media import SessionMedia
from pexbot.signalling.api import NodeApi
from pexbot.signalling.http import ApiTransport, RawResponse
from pexbot.signalling.token import TokenKeeper

ME = "me-uuid"


class RecordingTransport(ApiTransport):
    """An ApiTransport that answers from memory and records (method, path, json, token)."""

    def __init__(self) -> None:
        super().__init__("https://node.example", "meet")
        self.sent: list[tuple[str, str, Any, str | None]] = []
        self.tokens = iter(f"t{n}" for n in range(2, 100))
        self.stats_interval: float | None = None
        self.refreshed = asyncio.Event()

    async def request(  # type: ignore[override]
        self, method: str, path: str, *, json: Any = None, token: str | None = None, **_: Any
    ) -> RawResponse:
        self.sent.append((method, path, json, token))
        result: Any = True
        if path == "refresh_token":
            # No await here: the keeper has taken the new token before a waiter on this runs.
            self.refreshed.set()
            result = {
                "token": next(self.tokens),
                "expires": "120",
                "client_stats_update_interval": self.stats_interval,
            }
        elif path.endswith("/update"):
            result = "v=0 answer"
        return RawResponse(200, result, "success", b"", "application/json")

    def paths(self) -> list[str]:
        return [path for _, path, _, _ in self.sent]


def token_result(**fields: Any) -> wire.RequestTokenResult:
    return wire.RequestTokenResult.model_validate(
        {
            "token": "t1",
            "expires": "120",
            "participant_uuid": ME,
            "display_name": "bot",
            "role": "HOST",
            "version": {"version_id": "36"},
            "current_service_type": "conference",
            **fields,
        }
    )


def opened_access(**fields: Any) -> tuple[RecordingTransport, SessionAccess, TokenKeeper]:
    transport = RecordingTransport()
    access = SessionAccess(transport)
    info = token_result(**fields)
    keeper = TokenKeeper(transport, info)
    access.open(info, keeper)
    return transport, access, keeper


async def refresh(keeper: TokenKeeper, transport: RecordingTransport) -> None:
    """One refresh through the keeper's own loop, as the session's task group runs it."""
    before = keeper.refreshes
    transport.refreshed.clear()
    task = asyncio.create_task(keeper.run())
    keeper.request_refresh()
    try:
        await asyncio.wait_for(transport.refreshed.wait(), 5)
        assert keeper.refreshes == before + 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- the access part ---------------------------------------------------------------------------


async def test_access_refuses_what_needs_a_token_before_open() -> None:
    transport = RecordingTransport()
    access = SessionAccess(transport)
    needs_a_token: list[Callable[[], object]] = [
        lambda: access.info,
        lambda: access.token,
        lambda: access.token_keeper,
        lambda: access.api,
        lambda: access.conference,
        lambda: access.me,
        lambda: access.participant("someone"),
        lambda: access.breakout("room-1"),
    ]
    for use in needs_a_token:
        with pytest.raises(SessionEnded, match="not open"):
            use()
    assert not access.opened
    assert access.participant_uuid is None
    # The node-level API needs no token, and releasing nothing sends nothing.
    assert isinstance(access.node, NodeApi)
    await access.release("bye")
    assert transport.sent == []


async def test_access_api_objects_follow_the_current_token() -> None:
    transport, access, keeper = opened_access()
    assert access.opened and access.participant_uuid == ME
    assert access.api.me == ME  # decides which participant calls are host-only
    conference, me = access.conference, access.me  # built before the refresh
    assert await conference.message("before")
    await refresh(keeper, transport)
    assert access.token == "t2"
    assert await conference.message("after")
    assert await me.mute()
    assert await access.participant("other").mute()
    assert await access.breakout("room-1").participant("other").unmute()
    assert transport.sent == [
        ("POST", "message", {"type": "text/plain", "payload": "before"}, "t1"),
        ("POST", "refresh_token", None, "t1"),
        ("POST", "message", {"type": "text/plain", "payload": "after"}, "t2"),
        ("POST", f"participants/{ME}/mute", None, "t2"),
        ("POST", "participants/other/mute", None, "t2"),
        ("POST", "breakouts/room-1/participants/other/unmute", None, "t2"),
    ]


async def test_access_role_is_the_transports() -> None:
    transport, access, _ = opened_access()
    assert access.role is None
    transport.role = "GUEST"  # what the roster or a refresh sets
    assert access.role == "GUEST"


async def test_access_holds_one_token_and_releases_it_once() -> None:
    transport, access, keeper = opened_access()
    with pytest.raises(SessionEnded):
        access.open(token_result(token="other"), TokenKeeper(transport, token_result()))
    assert access.token_keeper is keeper and access.token == "t1"
    await access.release("bye")
    await access.release("again")
    assert transport.sent == [("POST", "release_token", {"reason": "bye"}, "t1")]
    with pytest.raises(SessionEnded):
        _ = access.token
    assert access.opened  # a token was issued: what it was stays readable
    assert access.info.participant_uuid == ME


# -- the media part ----------------------------------------------------------------------------


class FakeCall:
    """Stands in for a MediaCall: keeps what it was built with; ``start`` is controlled."""

    def __init__(self, signalling: Any, options: CallOptions, **kwargs: Any) -> None:
        self.signalling = signalling
        self.options = options
        self.kwargs = kwargs
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self.channel = object() if options.datachannel_id is not None else None
        self.started = asyncio.Event()
        self.proceed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.intervals: list[float | None] = []
        self.sent: list[tuple[str, str]] = []

    async def start(self) -> None:
        self.started.set()
        await self.proceed

    def set_stats_interval(self, seconds: float | None) -> None:
        self.intervals.append(seconds)

    def send_message(self, payload: str, *, type: str) -> bool:
        self.sent.append((payload, type))
        return True

    async def handle_event(self, event: Event) -> None:
        pass

    async def disconnect(self, reason: str) -> None:
        await self.close(reason)

    async def close(self, reason: str) -> None:
        self.end_reason = self.end_reason or reason
        self.ended.set()


class FakePresentation:
    def __init__(self) -> None:
        self.attached: list[tuple[Any, Any]] = []

    def attach_call(self, call: Any, on_track: Any) -> None:
        self.attached.append((call, on_track))


class MediaKit:
    """A media part with real state, dispatcher, slot and access, and fake calls."""

    def __init__(self, **token_fields: Any) -> None:
        self.transport, self.access, self.keeper = opened_access(**token_fields)
        self.state = ConferenceState()
        self.dispatcher = EventDispatcher()
        self.published: list[Event] = []
        self.dispatcher.subscribe(self.published.append)
        self.tasks: list[asyncio.Task[None]] = []
        self.slot = CallSlot(self._spawn)
        self.presentation = FakePresentation()
        self.closing: str | None = None
        self.calls: list[FakeCall] = []
        self.media = SessionMedia(
            self.access,
            self.state,
            self.dispatcher,
            calls=self.slot,
            presentation=self.presentation,  # type: ignore[arg-type]
            closing=lambda: self.closing,
            new_call=self._new_call,
        )

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self.tasks.append(task)
        return task

    def _new_call(self, signalling: Any, options: CallOptions, **kwargs: Any) -> Any:
        call = FakeCall(signalling, options, **kwargs)
        self.calls.append(call)
        return call

    async def starting(self, **kwargs: Any) -> tuple[asyncio.Task[Any], FakeCall]:
        """``media.call(**kwargs)`` as a task, once its call is in ``start``."""
        count = len(self.calls)
        task = asyncio.create_task(self.media.call(**kwargs))
        async with asyncio.timeout(5):
            while len(self.calls) == count or not self.calls[-1].started.is_set():
                if task.done():
                    task.result()  # raises what stopped it
                    raise AssertionError("media.call returned before the call started")
                await asyncio.sleep(0)
        return task, self.calls[-1]

    async def started_call(self, **kwargs: Any) -> FakeCall:
        """``media.call(**kwargs)`` with a start that succeeds at once."""
        task, fake = await self.starting(**kwargs)
        fake.proceed.set_result(None)
        call: Any = await task
        return call  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self.slot.close("test over", tell_node=False)
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.dispatcher.aclose()


async def test_media_refuses_a_call_while_the_session_is_closing() -> None:
    kit = MediaKit()
    kit.closing = "the node said goodbye"
    # Bounded: a call that is not refused would wait in its start for ever.
    async with asyncio.timeout(5):
        with pytest.raises(SessionEnded, match="the node said goodbye"):
            await kit.media.call()
        kit.closing = ""  # closing, but nobody gave a reason
        with pytest.raises(SessionEnded, match="the session is closing"):
            await kit.media.call()
    assert kit.calls == [] and kit.media.media_call is None
    await kit.aclose()


async def test_media_builds_the_call_from_the_token_and_takes_its_callbacks() -> None:
    kit = MediaKit(direct_media=True, pex_datachannel_id=7, client_stats_update_interval=5000)

    def on_track(role: str, track: Any) -> None:
        pass

    call = await kit.started_call(on_track=on_track, media_type="audio")
    assert kit.media.media_call is call
    assert kit.presentation.attached == [(call, on_track)]
    options = call.options
    assert (options.direct_media, options.datachannel_id, options.media_type) == (
        True,
        7,
        "audio",
    )
    assert options.stats_interval == 5.0
    assert call.signalling.participant_uuid == ME
    assert call.kwargs["on_track"] is on_track
    # One call at a time.
    with pytest.raises(CallError):
        await kit.media.call(options=CallOptions())

    # Chat that arrives over the call is applied to the state, then published.
    call.kwargs["on_message"](ChatMessage("hello", origin="Alice", uuid="alice-uuid"))
    chat = [e for e in kit.published if isinstance(e, MessageReceived)]
    assert [(e.payload, e.origin, e.uuid) for e in chat] == [("hello", "Alice", "alice-uuid")]
    assert list(kit.state.chat) == chat

    # Statistics are posted for our participant's call, with the current token.
    body = wire.StatisticsBody(audio=wire.StreamStats(rx_bitrate=64.0))
    await call.kwargs["post_statistics"]("call-1", body)
    assert kit.transport.sent[-1] == (
        "POST",
        f"participants/{ME}/calls/call-1/statistics",
        body.body(),
        "t1",
    )
    await kit.aclose()


async def test_media_passes_a_changed_stats_interval_to_the_live_call() -> None:
    kit = MediaKit()
    # No call yet: a refresh has nothing to reach (and must not fail).
    kit.media.token_refreshed(wire.RefreshTokenResult(token="t", expires="120"))
    call = await kit.started_call(options=CallOptions())
    kit.media.token_refreshed(wire.RefreshTokenResult(token="t", expires="120"))
    assert call.intervals == []  # the node did not ask for a change
    kit.media.token_refreshed(
        wire.RefreshTokenResult(token="t", expires="120", client_stats_update_interval=10000)
    )
    assert call.intervals == [10.0]

    # Through a real keeper, as the session wires it.
    keeper = TokenKeeper(kit.transport, token_result(), on_refreshed=kit.media.token_refreshed)
    kit.transport.stats_interval = 2500
    await refresh(keeper, kit.transport)
    assert call.intervals == [10.0, stats_interval_seconds(2500)] == [10.0, 2.5]
    await kit.aclose()


async def test_media_start_failure_frees_the_slot_and_says_why_if_closing() -> None:
    kit = MediaKit()
    task, fake = await kit.starting(options=CallOptions())
    fake.proceed.set_exception(ConnectionError("no answer"))
    with pytest.raises(ConnectionError):  # not closing: the call's own error
        await task
    assert kit.media.media_call is None and kit.presentation.attached == []

    task, fake = await kit.starting(options=CallOptions())
    assert kit.media.media_call is fake  # attached while it starts
    kit.closing = "User initiated disconnect"
    fake.proceed.set_exception(ConnectionError("torn down"))
    with pytest.raises(SessionEnded, match="User initiated disconnect") as raised:
        await task
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert kit.media.media_call is None

    # A cancelled start stays a cancellation, closing or not.
    kit.closing = None
    task, fake = await kit.starting(options=CallOptions())
    kit.closing = "User initiated disconnect"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert kit.media.media_call is None and kit.presentation.attached == []
    await kit.aclose()


async def test_media_chat_goes_over_the_data_channel_only_in_direct_media() -> None:
    kit = MediaKit(direct_media=True, pex_datachannel_id=7)
    assert kit.media.direct_media
    assert await kit.media.send_message("no call yet")
    call = await kit.started_call()
    assert await kit.media.send_message("peer to peer", type="text/markdown")
    assert call.sent == [("peer to peer", "text/markdown")]
    assert [(p, body) for _, p, body, _ in kit.transport.sent] == [
        ("message", {"type": "text/plain", "payload": "no call yet"})
    ]
    await kit.aclose()

    kit = MediaKit()  # not direct media: a call's existence does not matter
    assert not kit.media.direct_media
    await kit.started_call(options=CallOptions())
    assert await kit.media.send_message("through the node")
    assert kit.transport.paths() == ["message"]
    await kit.aclose()


async def test_media_call_signalling_asks_for_a_refresh_after_an_update() -> None:
    kit = MediaKit()
    signalling = kit.media.call_signalling()
    assert not kit.keeper.schedule.due(time.monotonic())
    answer = await signalling.update("call-1", wire.UpdateBody(sdp="v=0 offer"))
    assert answer == "v=0 answer"
    assert kit.transport.paths() == [f"participants/{ME}/calls/call-1/update"]
    assert kit.keeper.schedule.due(time.monotonic())  # as Pexip's client does
    await kit.aclose()


# -- the wiring --------------------------------------------------------------------------------


async def test_an_unopened_session_delegates_to_its_parts() -> None:
    session = Session("https://node.invalid", "meet")
    assert "not joined" in repr(session)
    assert session.participant_uuid is None and session.role is None
    assert session.media_call is None
    assert isinstance(session.node, NodeApi)
    for use in (lambda: session.conference, lambda: session.token, lambda: session.me):
        with pytest.raises(SessionEnded, match="not open"):
            use()
    with pytest.raises(SessionEnded, match="not open"):  # call options come from the token
        await session.call()
    with pytest.raises(SessionEnded, match="not open"):
        await session.send_message("hi")
    with pytest.raises(SessionEnded):  # no task group before open
        _ = session.task_group
