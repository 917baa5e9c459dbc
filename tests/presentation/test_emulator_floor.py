"""The emulator's floor, seen by real pexbot sessions over HTTP (no media): one presenter at a
time, who is told what, releases that must not end someone else's presentation, the typed
refusal; and the media router relaying only the floor holder's slides."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from preskit import slides_leg

from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.router import RelayRouter
from pexbot.errors import FloorDenied
from pexbot.rtc.tracks import OutgoingVideoTrack


@contextlib.asynccontextmanager
async def signalling_emulator(**conference: object) -> AsyncIterator[Emulator]:
    config = EmulatorConfig(
        conferences=[
            ConferenceConfig(aliases=["meet"], **conference)  # type: ignore[arg-type]
        ]
    )
    async with Emulator(config, media="none") as emu:
        yield emu


def sent(emu: Emulator, name: str) -> list[tuple[str, object]]:
    """(recipient uuid, data) of every ``name`` event the node sent, in order."""
    return [(e.participant_uuid, e.data) for e in emu.traffic.events if e.event == name]


async def settle(emu: Emulator, name: str, count: int) -> None:
    for _ in range(200):
        if len(sent(emu, name)) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} {name} events not sent: {sent(emu, name)}")


async def test_one_presenter_at_a_time() -> None:
    async with (
        signalling_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
        Session(emu.base_url, "meet", display_name="carol") as carol,
    ):
        a, b, c = (s.info.participant_uuid for s in (alice, bob, carol))
        emu.traffic.clear()
        await alice.me.take_floor()
        await settle(emu, "presentation_start", 2)
        starts = sent(emu, "presentation_start")
        assert sorted(to for to, _ in starts) == sorted([b, c])  # never to the presenter
        assert all(data["presenter_uuid"] == a for _, data in starts)  # type: ignore[index]
        # without media the node announces one (placeholder) picture at once
        await settle(emu, "presentation_frame", 2)
        room = emu.node.conference_by_alias("meet").main  # type: ignore[union-attr]
        assert room.presenter_uuid == a

        # bob takes the floor: it moves; alice (the old presenter) is told by presentation_start
        emu.traffic.clear()
        await bob.me.take_floor()
        await settle(emu, "presentation_start", 2)
        assert sorted(to for to, _ in sent(emu, "presentation_start")) == sorted([a, c])
        assert room.presenter_uuid == b
        # alice's release after being taken over must not end bob's presentation
        await alice.me.release_floor()
        await bob.me.take_floor()  # already presenting: nobody is told again
        await asyncio.sleep(0.2)
        assert room.presenter_uuid == b and sent(emu, "presentation_stop") == []
        assert len(sent(emu, "presentation_start")) == 2

        # the presenter leaving ends the presentation for the others
        await bob.close()
        await settle(emu, "presentation_stop", 2)
        assert sorted(to for to, _ in sent(emu, "presentation_stop")) == sorted([a, c])
        assert room.presenter_uuid is None
        for _ in range(200):
            if not carol.state.presentation.active:
                break
            await asyncio.sleep(0.02)
        assert not carol.state.presentation.active


async def test_refused_floor_is_a_typed_error_and_changes_nothing() -> None:
    async with (
        signalling_emulator(host_pin="1234", guest_pin="5678", guests_can_present=False) as emu,
        Session(emu.base_url, "meet", display_name="guest", pin="5678") as guest,
    ):
        call = await guest.call()  # signalling only: the node refuses every m-line
        try:
            with pytest.raises(FloorDenied, match="Guests cannot present"):
                await guest.presentation.start(OutgoingVideoTrack())
            assert not guest.presentation.sending
            room = emu.node.conference_by_alias("meet").main  # type: ignore[union-attr]
            assert room.presenter_uuid is None
            ends = [x.path for x in emu.traffic if x.path.endswith(("update", "take_floor"))]
            assert ends == [ends[0]] and ends[0].endswith("take_floor")  # no update was sent
        finally:
            await call.disconnect()


async def test_router_relays_only_the_floor_holders_slides() -> None:
    router = RelayRouter("room")
    a, b, c = slides_leg("a"), slides_leg("b"), slides_leg("c")
    try:
        for each in (a, b, c):
            router.leg_added(each)
        a.sending.add("slides")
        b.sending.add("slides")  # both send (a moment of a takeover), a holds the floor
        for each in (a, b):
            router.inputs_changed(each)
        # never told about a floor: the latest-joined sender, as before
        assert router.choose(c, "slides") == (b, "slides")
        router.set_presenter("a")
        assert router.choose(c, "slides") == (a, "slides")
        assert router.choose(b, "slides") == (a, "slides")
        assert router.choose(a, "slides") is None  # never the presenter's own slides
        assert c.outputs["slides"].source is not None  # routed: a tap of a's slides
        router.set_presenter(None)
        assert router.choose(c, "slides") is None and c.outputs["slides"].source is None
    finally:
        await router.aclose()
