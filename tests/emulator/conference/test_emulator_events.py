"""The event stream: sync on connect, roster updates, chat, dial-out, captions, presentation,
calls, disconnects and breakouts, as a client on loopback sees them."""

from __future__ import annotations

import asyncio
from typing import Any

from emu_helpers import Client, make_config, wait_for

from pexbot.emulator import Emulator
from pexbot.emulator.conference.calls import drop_call

OFFER = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendrecv\r\n"
)


async def test_sync_on_connect_in_order(client: Any) -> None:
    a, b = client("open"), client("open")
    await a.join("alice")
    await b.join("bob")
    for via_query in (False, True):  # token in the header, or ?token= like EventSource
        reader = await a.events(via_query=via_query, synced=False)
        names = [(await reader.next())[0] for _ in range(6)]
        assert names == [
            "participant_sync_begin",
            "participant_create",
            "participant_create",
            "participant_sync_end",
            "conference_update",
            "stage",
        ]
        creates = [d for n, d in reader.seen if n == "participant_create"]
        assert {c["uuid"] for c in creates} == {a.uuid, b.uuid}
        assert {c["display_name"] for c in creates} == {"alice", "bob"}
        assert (await reader.next("layout"))["participants"] == []
        await reader.close()


async def test_mute_emits_participant_update_to_everyone(client: Any) -> None:
    a, b = client("open"), client("open")
    await a.join("a")
    await b.join("b")
    ra, rb = await a.events(), await b.events()
    assert (await a.post(f"participants/{b.uuid}/mute"))[0] == 200
    for reader in (ra, rb):
        update = await reader.next("participant_update")
        assert (update["uuid"], update["is_muted"]) == (b.uuid, "YES")
    assert (await a.post(f"participants/{b.uuid}/spotlighton"))[0] == 200
    assert (await ra.next("participant_update"))["spotlight"] > 0


async def test_messages(client: Any) -> None:
    a, b, c = client("open"), client("open"), client("open")
    await a.join("alice")
    await b.join("bob")
    await c.join("carol")
    ra, rb, rc = await a.events(), await b.events(), await c.events()
    assert (await a.post("message", {"type": "text/plain", "payload": "hello"}))[0] == 200
    for reader in (rb, rc):
        assert await reader.next("message_received") == {
            "origin": "alice",
            "uuid": a.uuid,
            "type": "text/plain",
            "payload": "hello",
            "direct": False,
        }
    body = {"type": "application/json", "payload": '{"x": 1}'}
    assert (await b.post(f"participants/{c.uuid}/message", body))[0] == 200
    direct = await rc.next("message_received")
    assert (direct["direct"], direct["uuid"], direct["payload"]) == (True, b.uuid, '{"x": 1}')
    await asyncio.sleep(0.2)
    assert not [n for n, _ in ra.seen if n == "message_received"]  # no echo, not the target


async def test_dial_out_connecting_then_conference(emu_factory: Any, http: Any) -> None:
    emu = await emu_factory(make_config(dial_answer_delay=0.1, dial_timeout=0.4))
    host = Client(http, emu, "open")
    await host.join("host")
    events = await host.events()
    body = {"role": "GUEST", "destination": "bob@example.com", "protocol": "sip"}
    status, data = await host.post("dial", body)
    assert status == 200 and len(data["result"]) == 1
    uuid = data["result"][0]
    created = await events.next("participant_create")
    assert (created["uuid"], created["service_type"], created["call_direction"]) == (
        uuid,
        "connecting",
        "out",
    )
    answered = await events.next("participant_update")
    assert (answered["uuid"], answered["service_type"], answered["has_media"]) == (
        uuid,
        "conference",
        True,
    )
    stage = await events.next("stage")
    assert [s["participant_uuid"] for s in stage] == [uuid]
    body["destination"] = "noanswer@example.com"
    ringing = (await host.post("dial", body))[1]["result"][0]
    assert (await events.next("participant_create"))["uuid"] == ringing
    assert await events.next("participant_delete") == {"uuid": ringing}
    await host.close()


async def test_live_captions_scripted_then_hidden(emu_factory: Any, http: Any) -> None:
    emu = await emu_factory(make_config(caption_interval=0.05, caption_script=["Hi there all."]))
    c = Client(http, emu, "open")
    await c.join("c")
    events = await c.events()
    assert await c.post(f"participants/{c.uuid}/show_live_captions") == (
        200,
        {"status": "success", "result": None},
    )
    captions = [await events.next("live_captions") for _ in range(3)]
    assert captions == [
        {"data": "Hi ", "is_final": False},
        {"data": "Hi there ", "is_final": False},
        {"data": "Hi there all.", "is_final": True},
    ]
    assert (await c.post(f"participants/{c.uuid}/show_live_captions"))[0] == 200
    assert (await c.post(f"participants/{c.uuid}/hide_live_captions"))[0] == 200
    await asyncio.sleep(0.3)
    tail = [n for n, _ in await events.drain(0.2) if n == "live_captions"]
    assert len(tail) <= 1  # at most one already in flight when hidden
    await c.close()


async def test_presentation_floor_events_and_jpeg(client: Any, http: Any) -> None:
    a, b = client("open"), client("open")
    await a.join("a")
    await b.join("b")
    rb = await b.events()
    assert (await a.post(f"participants/{a.uuid}/take_floor"))[0] == 200
    start = await rb.next("presentation_start")
    assert (start["presenter_name"], start["presenter_uuid"]) == ("a", a.uuid)
    await rb.next("presentation_frame")
    async with http.get(f"{b.url}/presentation.jpeg", params={"id": "1", "token": b.token}) as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        assert (await resp.read())[:2] == b"\xff\xd8"
    async with http.get(f"{b.url}/presentation_high.jpeg", params={"token": b.token}) as resp:
        assert resp.status == 400  # the frame id is required
    assert (await a.post(f"participants/{a.uuid}/release_floor"))[0] == 200
    assert await rb.next("presentation_stop") is None


async def test_calls_signalling_and_layout(client: Any, emu: Emulator) -> None:
    a, b = client("open"), client("open")
    await a.join("a")
    await b.join("b")
    ra = await a.events()
    status, data = await a.post(
        f"participants/{a.uuid}/calls",
        {"call_type": "WEBRTC", "sdp": OFFER, "media_type": "video", "fecc_supported": False},
    )
    assert status == 200
    call = data["result"]["call_uuid"]
    assert "m=audio 0 " in data["result"]["sdp"] and "a=mid:1" in data["result"]["sdp"]
    base = f"participants/{a.uuid}/calls/{call}"
    cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "mid": "0", "ufrag": "u"}
    assert await a.post(f"{base}/new_candidate", cand) == (
        200,
        {"status": "success", "result": None},
    )
    assert await a.post(f"{base}/ack", {}) == (200, {"status": "success", "result": True})
    assert (await a.post(f"{base}/new_candidate", {"candidate": "", "mid": "0"}))[0] == 200
    status, data = await a.post(f"{base}/update", {"sdp": OFFER})
    assert status == 200 and data["result"]["call_uuid"] == call
    media = emu.media
    assert call in media.acked  # type: ignore[attr-defined]
    assert [c for c, _ in media.candidates[call]] == [cand["candidate"], ""]  # type: ignore[attr-defined]
    assert (await ra.next("participant_update"))["has_media"] is True
    # b joins with media: a's layout now shows b
    status, data = await b.post(
        f"participants/{b.uuid}/calls", {"call_type": "WEBRTC", "sdp": OFFER}
    )
    assert status == 200
    assert (await ra.next("layout"))["participants"] == [b.uuid]
    assert await a.post(f"{base}/disconnect") == (200, {"status": "success", "result": None})
    assert (await a.post(f"{base}/ack"))[0] == 404  # that call is gone
    # the node drops b's call on its own: call_disconnected
    rb = await b.events()
    b_call = next(iter(emu.node.participants[b.uuid].calls))
    assert drop_call(emu.node, emu.node.participants[b.uuid], b_call, "Test drop")
    assert await rb.next("call_disconnected") == {"call_uuid": b_call, "reason": "Test drop"}


async def test_disconnects(client: Any, emu: Emulator) -> None:
    host, g1, g2 = client("open"), client("open"), client("open")
    await host.join("h")
    await g1.join("g1")
    await g2.join("g2")
    r1, r2, rh = await g1.events(), await g2.events(), await host.events()
    assert (await host.post(f"participants/{g1.uuid}/disconnect"))[0] == 200
    assert await r1.next("disconnect") == {"reason": "Disconnected by another participant"}
    await asyncio.wait_for(r1.ended.wait(), 5)
    assert await rh.next("participant_delete") == {"uuid": g1.uuid}
    assert (await host.post("disconnect"))[0] == 200
    assert await r2.next("disconnect") == {"reason": "Disconnected by another participant"}
    assert (await rh.next("disconnect"))["reason"]
    await wait_for(lambda: not emu.node.participants)
    assert (await host.get("participants"))[0] == 403


async def test_breakouts_lifecycle(client: Any, emu: Emulator) -> None:
    host, guest = client("open"), client("open")
    await host.join("host")
    await guest.join("guest")
    rh, rg = await host.events(), await guest.events()
    status, data = await host.post(
        "breakouts",
        {
            "name": "Room 1",
            "end_action": "transfer",
            "participants": {"main": [guest.uuid]},
            "guests_allowed_to_leave": True,
        },
    )
    assert status == 200
    room = data["result"]["breakout_uuid"]
    begin = await rh.next("breakout_begin")
    assert begin["breakout_uuid"] == room and begin["participant_uuid"]
    assert await rg.next("breakout_refer") == {"breakout_uuid": room, "breakout_name": "Room 1"}
    await rg.next("participant_sync_begin")
    status_event = await rg.next("conference_update")
    assert status_event["breakout"] is True and status_event["breakout_name"] == "Room 1"
    assert await rh.next("participant_delete") == {"uuid": guest.uuid}
    wrapped = await rh.next("breakout_event")
    assert wrapped["breakout_uuid"] == room
    # the guest, inside, asks for help; the host sees it wrapped
    assert (await guest.post("breakoutbuzz"))[0] == 200
    while True:
        wrapped = await rh.next("breakout_event")
        if wrapped["event"] == "conference_update" and wrapped["data"]["breakoutbuzz"]["value"]:
            break
    # host mutes the guest inside the breakout
    assert (await host.post(f"breakouts/{room}/participants/{guest.uuid}/mute"))[0] == 200
    assert (await rg.next("participant_update"))["is_muted"] == "YES"
    # guest leaves on its own, host moves it back, then closes the room
    assert (await guest.post("leavebreakout"))[0] == 200
    assert await rg.next("breakout_refer") == {"breakout_uuid": "main"}
    body = {"breakout_uuid": room, "participants": [guest.uuid]}
    assert (await host.post("participants/breakout", body))[0] == 200
    assert (await rg.next("breakout_refer"))["breakout_uuid"] == room
    assert (await host.post(f"breakouts/{room}/disconnect"))[0] == 200
    assert await rg.next("breakout_refer") == {"breakout_uuid": "main"}
    end = await rh.next("breakout_end")
    assert end == {"breakout_uuid": room, "participant_uuid": begin["participant_uuid"]}
    conference = emu.node.conference_by_alias("open")
    assert conference is not None and not conference.breakouts
    assert guest.uuid in conference.main.participants
    # end_action disconnect
    status, data = await host.post(
        "breakouts",
        {"name": "R2", "end_action": "disconnect", "participants": {"main": [guest.uuid]}},
    )
    room2 = data["result"]["breakout_uuid"]
    assert (await host.post(f"breakouts/{room2}/request_guest_token"))[0] == 200
    assert (await host.post("breakouts/disconnect"))[0] == 200
    assert await rg.next("disconnect") == {"reason": "Breakout room closed"}
    assert guest.uuid not in emu.node.participants
