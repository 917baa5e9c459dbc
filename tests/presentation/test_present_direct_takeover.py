"""The floor moving inside a direct-media call, over real HTTP and a real peer connection.

- Takeover: alice presents, bob takes the floor. Alice is stopped and told, and receives bob's
  slides over the same peer connection; her line is turned by bob's offer, so she makes no
  offer that could cross it (none that would send, in any case).
- Crossing offers: both take the floor at once and both ``update`` s are held at the node until
  both have arrived, so each end gets the other's offer while its own is out. Alice waited for
  her far end, so she is the polite end (Pexip's roles): bob ignores her offer (``ack
  offer_ignored``), she rolls hers back, answers his and offers again. Whoever the node gave
  the floor to last presents, the other watches, and neither end needed a new connection.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from preskit import (
    TrailAnalyser,
    direct_pair,
    floor_wire,
    make_clip,
    playlist_from,
    strictly_increasing,
    wait_until,
)

from pexbot import MediaCall
from pexbot.emulator import Emulator
from pexbot.presentation.controller import SendingStopped

BOB_FIRST = 1_000_000


def generations(*calls: MediaCall) -> list[int]:
    peers = [call.current_peer for call in calls]
    return [peer.generation if peer is not None else -1 for peer in peers]


def ignored_acks(emu: Emulator) -> int:
    return sum(
        1
        for x in emu.traffic
        if x.path.endswith("/ack") and (x.request_json or {}).get("offer_ignored")
    )


async def test_takeover_inside_a_direct_media_call(tmp_path: Path) -> None:
    clip = await asyncio.to_thread(make_clip, tmp_path / "clip.mkv")
    at_alice, at_bob = TrailAnalyser(), TrailAnalyser()
    told: list[SendingStopped] = []
    async with direct_pair(at_alice, at_bob) as pair:
        emu, alice, bob = pair.emu, pair.alice, pair.bob
        before = generations(pair.call_a, pair.call_b)
        alice.presentation.on_stopped(told.append)
        alices = playlist_from(clip)
        await alice.presentation.start(alices, close_source=True)
        await wait_until(
            lambda: len(at_bob.numbers("presentation")) >= 10, what="alice's slides at bob"
        )
        mark = len(floor_wire(emu, alice.participant_uuid or ""))

        bobs = playlist_from(clip, first=BOB_FIRST)
        await bob.presentation.start(bobs, close_source=True)
        notice = await asyncio.wait_for(alice.presentation.wait_stopped(), 15)
        await wait_until(
            lambda: sum(n >= BOB_FIRST for n in at_alice.numbers("presentation")) >= 15,
            what="bob's slides at alice",
        )
        alice_sent = alices.track.frames_out
        await asyncio.sleep(1.0)  # anything alice still sent would reach bob by now
        after = generations(pair.call_a, pair.call_b)
        a_wire = floor_wire(emu, alice.participant_uuid or "")[mark:]
        room = emu.node.conference_by_alias("meet")
        assert room is not None
        floor = room.main.presenter_uuid
        await bob.presentation.stop()
        await wait_until(lambda: alice.presentation.receiving is None, what="alice stops")

    seen_by_alice = at_alice.numbers("presentation")
    seen_by_bob = at_bob.numbers("presentation")
    print(
        "direct takeover:",
        json.dumps(
            {
                "alice_sent": alice_sent,
                "bob_saw": len(seen_by_bob),
                "alice_saw": len(seen_by_alice),
                "alice_wire": a_wire,
                "generations": [before, after],
            }
        ),
    )
    assert notice.reason == "taken_over" and told == [notice] and "bob" in notice.detail
    assert notice.taken_by is not None and notice.taken_by.presenter_uuid == bob.participant_uuid
    assert floor == bob.participant_uuid
    # bob saw alice's frames only, rising, and none she sent after being taken over
    assert seen_by_bob and strictly_increasing(seen_by_bob)
    assert max(seen_by_bob) < alice_sent
    # alice saw bob's only (never her own back), rising
    assert seen_by_alice and all(n >= BOB_FIRST for n in seen_by_alice)
    assert strictly_increasing(seen_by_alice)
    # alice gave the floor back and never offered a line that would send or stop bob's
    assert ("release_floor", None) in a_wire
    assert all(direction == "recvonly" for what, direction in a_wire if what == "update")
    assert after == before  # one connection throughout


@pytest.mark.parametrize("first", ["alice", "bob"])
async def test_crossing_offers_when_both_take_the_floor(tmp_path: Path, first: str) -> None:
    clip = await asyncio.to_thread(make_clip, tmp_path / "clip.mkv")
    at_alice, at_bob = TrailAnalyser(), TrailAnalyser()
    async with direct_pair(at_alice, at_bob) as pair:
        emu, alice, bob, call_a, call_b = pair.emu, pair.alice, pair.bob, pair.call_a, pair.call_b
        assert call_a.polite and not call_b.polite  # alice waited for bob: she yields
        before = generations(call_a, call_b)
        # Both updates wait at the node until both are there: they must cross.
        emu.faults.delay_next(2, delay=1.0, path_contains="/update")
        alices, bobs = playlist_from(clip), playlist_from(clip, first=BOB_FIRST)
        starts = [
            alice.presentation.start(alices, close_source=True),
            bob.presentation.start(bobs, close_source=True),
        ]
        if first == "bob":  # bob's take_floor reaches the node first: alice gets the floor
            starts.reverse()
        started = await asyncio.gather(*starts, return_exceptions=True)
        assert started == [None, None]
        await wait_until(
            lambda: alice.presentation.sending != bob.presentation.sending,
            what="one presenter left",
        )
        room = emu.node.conference_by_alias("meet")
        assert room is not None
        floor = room.main.presenter_uuid
        winner, loser = (alice, bob) if alice.presentation.sending else (bob, alice)
        winner_name = "alice" if winner is alice else "bob"
        watch = at_bob if winner is alice else at_alice
        lowest = 0 if winner is alice else BOB_FIRST
        mark = len(watch.numbers("presentation"))

        def winners_frames() -> list[int]:
            return [n for n in watch.numbers("presentation")[mark:] if n >= lowest]

        await wait_until(lambda: len(winners_frames()) >= 15, what="the winner's slides")
        crossed = ignored_acks(emu)
        after = generations(call_a, call_b)
        settled = [c._supervisor.settled for c in (call_a, call_b)]
        lost = await asyncio.wait_for(loser.presentation.wait_stopped(), 5)
        slides = [
            p.negotiated_direction("slides") if p else None
            for p in (call_a.current_peer, call_b.current_peer)
        ]
        figures: dict[str, Any] = {
            "first": first,
            "winner": winner_name,
            "ignored_acks": crossed,
            "settled": settled,
            "slides": slides,
            "generations": [before, after],
        }
        print("crossing:", json.dumps(figures))

    assert crossed >= 1  # the offers did cross, and bob (impolite) ignored alice's
    assert floor == winner.participant_uuid and lost.reason == "taken_over"
    assert winner_name != first  # the node gives the floor to the later take_floor
    assert strictly_increasing(winners_frames())
    sending, receiving = ("sendonly", "recvonly")
    assert slides == ([sending, receiving] if winner is alice else [receiving, sending])
    assert after == before  # the polite end rolled back: no new connection on either side
