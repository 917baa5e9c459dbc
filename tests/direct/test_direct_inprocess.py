"""Direct media between two in-process MediaCalls, brokered by the kit's node exactly as
direct-media-flow.md describes: waiting for the far end, answering its offer, trickle, media
both ways, a dead path recovered by restarts, a far end replaced, chat on the data channel,
statistics."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from directkit import (
    ALICE_FIRST,
    BOB_FIRST,
    CAROL_FIRST,
    NumberedPattern,
    Numbers,
    direct_node,
    path_switch,
    strictly_increasing,
    wait_until,
)

from media import ToneAudioSource
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.rtc.datachannel import ChatMessage

OPTIONS = CallOptions(direct_media=True, video_codec="vp8", stats_interval=1.0, datachannel_id=5)
BOTH = [("main", "audio"), ("main", "video")]


async def test_two_calls_wait_answer_and_exchange_media() -> None:
    async with direct_node() as node:
        alice, bob = node.party("alice"), node.party("bob")
        at_alice, at_bob = Numbers(), Numbers()
        call_a = alice.make_call(
            OPTIONS, video=NumberedPattern(ALICE_FIRST), on_track=at_alice.on_track
        )
        call_b = bob.make_call(OPTIONS, video=NumberedPattern(BOB_FIRST), on_track=at_bob.on_track)
        try:
            await call_a.start()
            assert call_a.state == "waiting" and call_a.call_uuid is not None
            # The first call: calls, its discarded connection's candidates, and no ack.
            assert alice.names()[0] == "calls" and "ack" not in alice.names()
            await call_b.start()  # answered by alice through the node
            await asyncio.wait_for(call_a.wait_connected(), 20)
            await wait_until(
                lambda: at_alice.count_from(BOB_FIRST) > 0 and at_bob.count_from(ALICE_FIRST) > 0,
                what="each side reading the other's pattern",
            )
            acks_a = [body for name, body in alice.records if name == "ack"]
            assert len(acks_a) == 1 and acks_a[0]["sdp"].startswith("v=0")
            names_b = bob.names()
            assert names_b[0] == "calls" and names_b[-2:] == ["ack", "new_candidate"]
            assert [b for n, b in bob.records if n == "ack"] == [{}]
            # Peer to peer: each one's nominated pair ends at the other's socket.
            pair_a, pair_b = call_a.selected_pair(), call_b.selected_pair()
            assert pair_a is not None and pair_b is not None
            assert pair_a[1] == pair_b[0] and pair_b[1] == pair_a[0]
            assert call_a.policy.leader is False and call_b.policy.leader is True
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_alice.close()
            await at_bob.close()


async def test_dead_path_recovers_within_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block every ICE socket for 4 s: both ends restart (new connections) until the path is
    back; media resumes within 3 s of that, on the same tracks, numbers still rising."""
    with path_switch(monkeypatch) as path:
        async with direct_node() as node:
            alice, bob = node.party("alice"), node.party("bob")
            at_alice, at_bob = Numbers(), Numbers()
            call_a = alice.make_call(
                OPTIONS, video=NumberedPattern(ALICE_FIRST), on_track=at_alice.on_track
            )
            call_b = bob.make_call(
                OPTIONS, video=NumberedPattern(BOB_FIRST), on_track=at_bob.on_track
            )
            try:
                await call_a.start()
                await call_b.start()
                await wait_until(lambda: len(at_alice.numbers()) >= 15, what="media before")
                path.blocked = True
                blocked_at = time.monotonic()
                await asyncio.sleep(4.0)
                before = max(at_alice.numbers())
                path.blocked = False
                unblocked_at = time.monotonic()
                await wait_until(
                    lambda: (
                        max(at_alice.numbers()) > before + 3
                        and call_a.state == call_b.state == "connected"
                    ),
                    within=20,
                    what="media after the path came back",
                )
                trail = [r for r in at_alice.trail() if r.arrived > unblocked_at]
                resumed = trail[0].arrived - unblocked_at
                numbers = at_alice.numbers()
                pts = at_alice.pts["main"]
                figures = {
                    "blocked_s": round(unblocked_at - blocked_at, 2),
                    "resumed_after_unblock_s": round(resumed, 2),
                    "restarts": {"alice": call_a.restarts, "bob": call_b.restarts},
                    "dropped_datagrams": path.dropped,
                }
                print("dead path:", json.dumps(figures))
                assert resumed <= 3.0, figures
                assert call_b.restarts >= 1  # bob offered first: bob leads the restarts
                assert sorted(at_alice.tracks) == BOTH  # once each: no new on_track
                assert strictly_increasing(numbers)
                assert numbers[0] >= BOB_FIRST and strictly_increasing(pts)
            finally:
                await call_a.disconnect()
                await call_b.disconnect()
                await at_alice.close()
                await at_bob.close()


async def test_far_end_replaced_without_rejoining() -> None:
    async with direct_node() as node:
        alice, bob, carol = node.party("alice"), node.party("bob"), node.party("carol")
        at_alice, at_carol = Numbers(), Numbers()
        call_a = alice.make_call(
            OPTIONS, video=NumberedPattern(ALICE_FIRST), on_track=at_alice.on_track
        )
        call_b = bob.make_call(OPTIONS, video=NumberedPattern(BOB_FIRST))
        call_c = carol.make_call(
            OPTIONS, video=NumberedPattern(CAROL_FIRST), on_track=at_carol.on_track
        )
        try:
            await call_a.start()
            await call_b.start()
            await wait_until(lambda: at_alice.count_from(BOB_FIRST) > 0)
            first_uuid = call_a.call_uuid
            await node.leave(bob)
            await wait_until(lambda: call_a.state == "waiting", what="alice waiting again")
            assert call_a.call_uuid not in (None, first_uuid)
            assert alice.names().count("calls") == 2 and "disconnect" in alice.names()
            await call_c.start()
            await wait_until(
                lambda: (
                    at_alice.count_from(CAROL_FIRST) > 0 and at_carol.count_from(ALICE_FIRST) > 0
                ),
                what="carol's pattern at alice and alice's at carol",
            )
            # alice's sending survived bob's connection closing under it
            assert call_a.video.readyState == "live" and call_a.audio.readyState == "live"
            assert call_a.peers_answered == 2 and not call_a.ended.is_set()
            assert sorted(at_alice.tracks) == BOTH  # one track each
        finally:
            for call in (call_a, call_b, call_c):
                await call.disconnect()
            await at_alice.close()
            await at_carol.close()


async def test_chat_and_statistics() -> None:
    async with direct_node() as node:
        alice, bob = node.party("alice"), node.party("bob")
        got: list[ChatMessage] = []
        call_a = alice.make_call(
            OPTIONS,
            audio=ToneAudioSource(),
            video=NumberedPattern(ALICE_FIRST),
            on_message=got.append,
        )
        options_b = CallOptions(
            direct_media=True,
            video_codec="vp8",
            stats_interval=1.0,
            datachannel_id=5,
            display_name="bob",
            participant_uuid="bob-uuid",
        )
        call_b: MediaCall = bob.make_call(
            options_b, audio=ToneAudioSource(), video=NumberedPattern(BOB_FIRST)
        )
        try:
            await call_a.start()
            assert call_b.send_message("queued before the call") is False
            await call_b.start()
            await wait_until(lambda: len(got) == 1, what="the queued message")
            assert call_b.send_message("hello", type="text/plain") is True
            await wait_until(lambda: len(got) == 2, what="the second message")
            assert got[1] == ChatMessage("hello", origin="bob", uuid="bob-uuid")
            await wait_until(lambda: len(bob.statistics) >= 2, within=15, what="statistics")
            stats = call_b.stats()
            print("stats:", stats.model_dump_json())
            for stream in (stats.audio, stats.video):
                assert stream.rx_packets > 0 and stream.tx_packets > 0
                assert stream.rx_bitrate_kbps > 20 and stream.tx_bitrate_kbps > 20
            assert stats.audio.tx_bitrate_kbps < 200 and stats.video.tx_bitrate_kbps < 2000
            assert stats.audio.rx_codec == "opus" and stats.video.tx_codec == "VP8"
            assert stats.video.rx_resolution == (320, 180)
            assert 5 <= stats.video.rx_fps <= 25 and 5 <= stats.video.tx_fps <= 25
            assert stats.audio.rx_jitter_ms is not None and stats.audio.rx_jitter_ms < 100
            posted = bob.statistics[-1]
            assert set(posted) == {"audio", "video"}
            assert posted["video"]["rx_resolution"] == "320x180"
        finally:
            await call_a.disconnect()
            await call_b.disconnect()


async def test_crossing_offers_polite_direct_call_yields() -> None:
    """Alice's update is out when bob's restart offer reaches her: she drops hers (the update
    is aborted), answers bob's on a new connection, then offers hers again."""
    async with direct_node() as node:
        alice, bob = node.party("alice"), node.party("bob")
        at_bob = Numbers()
        call_a = alice.make_call(OPTIONS, video=NumberedPattern(ALICE_FIRST))
        call_b = bob.make_call(OPTIONS, video=NumberedPattern(BOB_FIRST), on_track=at_bob.on_track)
        try:
            await call_a.start()
            await call_b.start()
            await asyncio.wait_for(call_a.wait_connected(), 20)
            alice.hold_updates = asyncio.Event()
            presenting = asyncio.ensure_future(call_a.set_slides_direction("sendonly"))
            await wait_until(lambda: alice.names().count("update") == 1, what="alice's update")
            assert await call_b.restart("test: crossing offers")
            answers = [b for n, b in alice.records if n == "ack" and b.get("sdp")]
            assert len(answers) == 2  # new_offer, then bob's restart offer: both answered
            alice.hold_updates.set()  # her second try goes through
            await asyncio.wait_for(presenting, 20)
            assert alice.names().count("update") == 2
            assert call_a.current_peer is not None
            assert call_a.current_peer.negotiated_direction("slides") == "sendonly"
            before = len(at_bob.numbers())
            await wait_until(lambda: len(at_bob.numbers()) > before + 10, what="media after")
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_bob.close()


async def test_turn_servers_from_calls_restart_the_call_with_them() -> None:
    """TURN-443 (§6): no candidates trickled, ack {}, then a new connection configured with
    the node's TURN server, offered through update."""
    from pexbot import wire

    async with direct_node() as node:
        alice, bob = node.party("alice"), node.party("bob")
        bob.turn = [
            wire.TurnServer(urls=["turn:127.0.0.1:9?transport=udp"], username="u", credential="c")
        ]
        call_a = alice.make_call(OPTIONS, video=NumberedPattern(ALICE_FIRST))
        call_b = bob.make_call(OPTIONS, video=NumberedPattern(BOB_FIRST))
        try:
            await call_a.start()
            await call_b.start()
            assert bob.names()[:4] == ["calls", "ack", "update", "ack"]
            peer = call_b.current_peer
            assert peer is not None and peer.generation == 2 and call_b.restarts == 1
            servers = peer.configuration.iceServers or []
            assert [s.urls for s in servers] == [["turn:127.0.0.1:9?transport=udp"]]
            assert servers[0].username == "u"
            await asyncio.wait_for(call_a.wait_connected(), 20)
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
