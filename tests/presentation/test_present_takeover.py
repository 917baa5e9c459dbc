"""Must-show, part 2: alice presents, bob watches; carol takes the floor. Alice is stopped and
told (``taken_over``, naming carol), gives the floor back the way Pexip's client does and
watches carol (one ``update``, ``recvonly``); bob's presentation switches from alice's frame
numbers to carol's. The node here is the transcoding one (the composing router), so slides go
through it as well as the relay (part 1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

from preskit import (
    FPS,
    SIZE,
    TrailAnalyser,
    feed,
    floor_wire,
    make_clip,
    playlist_from,
    strictly_increasing,
    wait_until,
)

from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.compositor import compose_router_factory
from pexbot.presentation.controller import SendingStopped

CAROL_FIRST = 1_000_000


@contextlib.asynccontextmanager
async def composing_emulator() -> AsyncIterator[Emulator]:
    backend = AiortcMediaBackend(
        router_factory=compose_router_factory(size=SIZE, fps=FPS), card_size=SIZE, fps=FPS
    )
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])
    async with Emulator(config, media=backend) as emu:
        yield emu


def whose(numbers: list[int]) -> list[str]:
    """Runs of presenters in a trail of frame numbers ("a" alice, "c" carol)."""
    runs: list[str] = []
    for n in numbers:
        who = "c" if n >= CAROL_FIRST else "a"
        if not runs or runs[-1] != who:
            runs.append(who)
    return runs


async def test_second_presenter_takes_the_floor(tmp_path: Path) -> None:
    clip = await asyncio.to_thread(make_clip, tmp_path / "clip.mkv")
    watch_bob, watch_alice = TrailAnalyser(), TrailAnalyser()
    told: list[SendingStopped] = []
    async with (
        composing_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
        Session(emu.base_url, "meet", display_name="carol") as carol,
    ):
        calls = [
            await alice.call(on_track=feed(watch_alice)),
            await bob.call(on_track=feed(watch_bob)),
            await carol.call(),
        ]
        try:
            alice.presentation.on_stopped(told.append)
            alices = playlist_from(clip)
            await alice.presentation.start(alices, close_source=True)
            await wait_until(
                lambda: len(watch_bob.numbers("presentation")) >= 10, what="alice's slides at bob"
            )

            carols = playlist_from(clip, first=CAROL_FIRST)
            await carol.presentation.start(carols, close_source=True)
            notice = await asyncio.wait_for(alice.presentation.wait_stopped(), 15)
            await wait_until(
                lambda: sum(n >= CAROL_FIRST for n in watch_bob.numbers("presentation")) >= 15,
                what="carol's slides at bob",
            )
            await wait_until(
                lambda: sum(n >= CAROL_FIRST for n in watch_alice.numbers("presentation")) >= 5,
                what="carol's slides at alice",
            )
            await carol.presentation.stop()
            await wait_until(
                lambda: alice.presentation.receiving is None and bob.presentation.receiving is None,
                what="alice and bob follow carol's stop",
            )
            room = emu.node.conference_by_alias("meet")
            assert room is not None
            floor_after = room.main.presenter_uuid
        finally:
            for call in calls:
                await call.disconnect()
            await watch_bob.close()
            await watch_alice.close()
        alice_uuid, carol_uuid = alice.participant_uuid, carol.participant_uuid
        a_wire = floor_wire(emu, alice_uuid or "")

    at_bob = watch_bob.numbers("presentation")
    at_alice = watch_alice.numbers("presentation")
    figures = {
        "bob_runs": whose(at_bob),
        "bob_alice_frames": sum(n < CAROL_FIRST for n in at_bob),
        "bob_carol_frames": sum(n >= CAROL_FIRST for n in at_bob),
        "alice_saw_carol": len(at_alice),
        "alice_sent": alices.track.frames_out,
        "notice": [notice.reason, notice.detail],
    }
    print("takeover:", json.dumps(figures))
    # alice: stopped and told who took over; her playlist closed; she watched carol afterwards
    assert notice.reason == "taken_over" and told == [notice]
    assert notice.taken_by is not None and notice.taken_by.presenter_uuid == carol_uuid
    assert "carol" in notice.detail and alices.ended.is_set()
    assert all(n >= CAROL_FIRST for n in at_alice)  # never her own slides back
    start = a_wire.index(("take_floor", None))
    assert a_wire[start:] == [
        ("take_floor", None),
        ("update", "sendonly"),
        ("ack", None),
        ("release_floor", None),  # given back as Pexip's client does, and at once...
        ("update", "recvonly"),  # ...carol's presentation received (one offer, as a browser's)
        ("ack", None),
        ("update", "inactive"),  # carol stopped
        ("ack", None),
    ]
    assert alice_uuid != carol_uuid and floor_after is None  # carol's stop freed the floor
    # bob: alice's numbers, then carol's, each rising, never back to alice
    assert whose(at_bob) == ["a", "c"]
    switch = next(i for i, n in enumerate(at_bob) if n >= CAROL_FIRST)
    assert strictly_increasing(at_bob[:switch]) and strictly_increasing(at_bob[switch:])
