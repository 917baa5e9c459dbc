"""``Session.call``: the session owns its media call. Over real HTTP against the emulator with
the aiortc backend: the offer's shape and the wire order as the node saw them, one call at a
time, the node ending the call or the session, and leaving in the official client's order."""

from __future__ import annotations

import asyncio

import pytest
from intkit import call_requests, endpoint_tail, media_emulator, stun_server, wait_until

from pexbot import CallError, Session, SessionEnded
from pexbot.events import CallDisconnected, EventName
from pexbot.rtc.sdp import Sdp


def offer_shape(sdp: str) -> list[tuple[str, str | None, str | None]]:
    """(kind, a=content, direction) of each m-line."""
    return [(s.kind, s.value("content"), s.direction) for s in Sdp.parse(sdp).media]


async def test_offer_and_wire_order_match_the_official_client() -> None:
    """b) Three m-lines (audio, video, slides) with a=content main/main/slides, slides
    inactive, no candidates in the SDP; then POST calls -> new_candidate x N (N >= 1) ->
    ack {} -> new_candidate {candidate: '', mid: '0'}."""
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
    ):
        call = await alice.call()
        assert alice.media_call is call
        assert call.call_uuid is not None
        requests = call_requests(emu, alice.info.participant_uuid)
        posted = requests[0]
        assert endpoint_tail(posted) == "calls"
        sdp = posted.request_json["sdp"]
        assert offer_shape(sdp) == [
            ("audio", "main", "sendrecv"),
            ("video", "main", "sendrecv"),
            ("video", "slides", "inactive"),
        ]
        assert "a=candidate" not in sdp
        assert posted.request_json["media_type"] == "video"

        names = [endpoint_tail(x) for x in requests]
        n = names.index("ack") - 1
        assert n >= 1
        assert names == ["calls"] + ["new_candidate"] * n + ["ack", "new_candidate"]
        bodies = [x.request_json for x in requests]
        assert bodies[n + 1] == {}
        assert bodies[-1] == {"candidate": "", "mid": "0"}
        for body in bodies[1 : n + 1]:
            assert body["candidate"].startswith("candidate:")
            assert set(body) == {"candidate", "mid", "ufrag"}  # never the pwd
        # every candidate was sent to the call /calls created, after it answered
        assert all(f"/calls/{call.call_uuid}/" in x.path for x in requests[1:])
        assert all(x.status == 200 for x in requests)
        await call.disconnect()


@pytest.mark.parametrize(
    ("overrides", "shape"),
    [
        ({"media_type": "video-only"}, [("audio", "main"), ("video", "main")]),
        ({"media_type": "audio"}, [("audio", "main")]),
        ({"present": "main"}, [("audio", "main"), ("video", "main")]),
    ],
)
async def test_media_type_and_present_shape_the_offer(
    overrides: dict[str, str], shape: list[tuple[str, str]]
) -> None:
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
    ):
        call = await alice.call(**overrides)  # type: ignore[arg-type]
        try:
            posted = call_requests(emu, alice.info.participant_uuid)[0].request_json
            assert [(k, c) for k, c, _ in offer_shape(posted["sdp"])] == shape
            assert posted["media_type"] == overrides.get("media_type", "video")
            assert posted.get("present") == overrides.get("present")
            with pytest.raises(CallError, match="no presentation line"):
                await call.start_presenting(call.video)
        finally:
            await call.disconnect()


async def test_one_call_at_a_time_and_the_slot_frees() -> None:
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
    ):
        first = await alice.call(media_type="audio")
        with pytest.raises(CallError, match="already has a live media call") as refused:
            await alice.call(media_type="audio")
        assert first.call_uuid is not None and first.call_uuid in str(refused.value)
        await first.disconnect()
        await first.disconnect()  # idempotent
        await wait_until(lambda: alice.media_call is None, what="the slot to free")
        second = await alice.call(media_type="audio")
        assert second.call_uuid != first.call_uuid
        assert alice.media_call is second
        posted = [
            x for x in call_requests(emu, alice.info.participant_uuid) if x.path.endswith("/calls")
        ]
        assert len(posted) == 2


async def test_call_disconnected_by_the_node_ends_the_call() -> None:
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
    ):
        events = alice.events(names=[EventName.CALL_DISCONNECTED])
        call = await alice.call(media_type="audio")
        assert call.call_uuid is not None
        uuid = call.call_uuid
        assert emu.drop_call(alice.info.participant_uuid, uuid, "Dropped by the test")
        await asyncio.wait_for(call.ended.wait(), 10)
        assert call.end_reason == "Dropped by the test"
        event = await asyncio.wait_for(anext(aiter(events)), 10)
        assert isinstance(event, CallDisconnected) and event.call_uuid == uuid
        await wait_until(lambda: alice.media_call is None, what="the slot to free")
        assert call.pc.connectionState == "closed"
        # the node had forgotten the call: no calls/<uuid>/disconnect was sent
        assert not [x for x in emu.traffic if x.path.endswith(f"/calls/{uuid}/disconnect")]
        assert not alice.ended.is_set()
        again = await alice.call(media_type="audio")
        await again.disconnect()


async def test_leaving_disconnects_the_call_before_releasing_the_token() -> None:
    """Official client order (§13): calls/<uuid>/disconnect, then release_token."""
    async with media_emulator() as emu:
        session = Session(emu.base_url, "meet", display_name="alice")
        await session.open()
        call = await session.call(media_type="audio")
        uuid = call.call_uuid
        await session.close()
        await session.close()  # idempotent
        assert call.ended.is_set() and call.pc.connectionState == "closed"
        tail = [
            x.path.rsplit("/", 1)[-1]
            for x in emu.traffic
            if x.path.endswith(f"/calls/{uuid}/disconnect") or x.path.endswith("/release_token")
        ]
        assert tail == ["disconnect", "release_token"]
        assert session.media_call is None


async def test_node_disconnecting_the_session_closes_the_call() -> None:
    """SSE ``disconnect``: the call is closed (no calls/<uuid>/disconnect, as Pexip's client
    does), then the session ends with the node's reason."""
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="host") as host,
    ):
        bot = Session(emu.base_url, "meet", display_name="bot")
        await bot.open()
        call = await bot.call(media_type="audio")
        uuid = call.call_uuid
        await host.participant(bot.info.participant_uuid).disconnect()
        await asyncio.wait_for(bot.ended.wait(), 10)
        assert call.ended.is_set() and call.pc.connectionState == "closed"
        assert bot.end_reason is not None
        assert not [x for x in emu.traffic if x.path.endswith(f"/calls/{uuid}/disconnect")]
        await bot.close()  # idempotent after the node ended it


async def test_new_candidate_events_reach_the_call() -> None:
    """``new_candidate`` (direct media trickle) is routed to the session's call, in order.

    The emulator's answer already ended its candidates, so aiortc refuses more; what is
    checked is what the call was handed (a spy in front of the real method)."""
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
    ):
        call = await alice.call(media_type="audio")
        handed: list[tuple[str, str | None]] = []
        real = call.add_remote_candidate

        async def spy(candidate: str, mid: str | None) -> None:
            handed.append((candidate, mid))
            await real(candidate, mid)

        call.add_remote_candidate = spy  # type: ignore[method-assign]
        sent = [
            ("candidate:9 1 udp 1 127.0.0.1 40999 typ host", "0"),
            ("candidate:10 1 udp 1 127.0.0.1 41000 typ host", "1"),
            ("", "0"),
        ]
        for candidate, mid in sent:
            emu.node.bus.send(
                alice.info.participant_uuid, "new_candidate", {"candidate": candidate, "mid": mid}
            )
        await wait_until(lambda: len(handed) == 3, within=10, what="the candidates")
        assert handed == sent
        assert not call.ended.is_set()  # a refused candidate does not end the call
        await call.disconnect()


async def test_call_options_come_from_request_token() -> None:
    """ICE servers from request_token, and nothing else (no public STUN fallback): the
    call's gathering asked the STUN server the node named."""
    async with stun_server() as stun:
        url = f"stun:127.0.0.1:{stun.port}"
        async with (
            media_emulator(stun=[url]) as emu,
            Session(emu.base_url, "meet", display_name="alice") as alice,
        ):
            call = await alice.call(media_type="audio")
            try:
                assert [s.urls for s in call.options.ice_servers] == [url]
                assert call.options.relay_only is False
                assert call.options.media_type == "audio"
                assert stun.requests >= 1
            finally:
                await call.disconnect()


async def test_session_closing_while_a_call_starts() -> None:
    async with media_emulator() as emu:
        session = Session(emu.base_url, "meet", display_name="alice")
        await session.open()
        emu.faults.delay_next(1, delay=1.0, path_contains="/calls")
        starting = asyncio.ensure_future(session.call(media_type="audio"))
        await asyncio.sleep(0.3)
        await session.close()
        with pytest.raises(SessionEnded):
            await starting
        assert session.media_call is None


async def test_a_node_slow_to_disconnect_the_call_does_not_hold_the_session() -> None:
    """calls/<uuid>/disconnect gets the release timeout; then the token is released anyway."""
    async with media_emulator() as emu:
        session = Session(emu.base_url, "meet", display_name="alice", release_timeout=1.0)
        await session.open()
        call = await session.call(media_type="audio")
        emu.faults.delay_next(1, delay=8.0, path_contains="/disconnect")
        started = asyncio.get_running_loop().time()
        await session.close()
        took = asyncio.get_running_loop().time() - started
        assert took < 4.0
        assert call.pc.connectionState == "closed"
        assert [x for x in emu.traffic if x.path.endswith("/release_token")]
