"""Built-in participants (emulator.conference.builtin): in the roster from the conference's start,
their pattern and tone reach a pexbot over real HTTP and aiortc (composed and relayed), they
show in layout and stage events, cost nothing without a media call, and do not keep a
conference alive."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiortc.mediastreams import MediaStreamTrack

from media import Analyser
from media.pattern import Code
from media.synthetic import SilenceAudioSource
from pexbot import Session
from pexbot.emulator import BuiltinParticipant, ConferenceConfig, Emulator, EmulatorConfig
from pexbot.emulator.conference.builtin import (
    DEFAULT_FIRST_FRAME,
    FRAME_STRIDE,
    Builtins,
    wanted_rooms,
)
from pexbot.emulator.conference.model import Call
from pexbot.emulator.config import load_config
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.backend import MediaChoice
from pexbot.emulator.media.compositor import ComposeRouter
from pexbot.emulator.media.router import RelayRouter
from pexbot.errors import ConfigError
from pexbot.events import Event, LayoutChanged, StageChanged

SIZE = (320, 180)
ALIAS = "demo"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "emulator-config.json"


def demo_config(**builtin: Any) -> EmulatorConfig:
    spec = BuiltinParticipant(display_name="Demo pattern", **builtin)
    return EmulatorConfig(
        conferences=[ConferenceConfig(aliases=[ALIAS], builtin_participants=[spec])]
    )


@contextlib.asynccontextmanager
async def emulator(media: MediaChoice = "compose", **builtin: Any) -> AsyncIterator[Emulator]:
    async with Emulator(demo_config(**builtin), media=media, media_size=SIZE) as emu:
        yield emu


def builtins_of(emu: Emulator) -> Builtins:
    return emu.node.builtins


def builtin_uuid(session: Session) -> str:
    found = [p.uuid for p in session.state.roster.values() if p.display_name == "Demo pattern"]
    assert len(found) == 1, session.state.roster
    return str(found[0])


async def wait_until(predicate: Callable[[], bool], within: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)


class Trail(Analyser):
    """An Analyser that also keeps the pattern numbers it reads, in the order it read them
    (one worker thread, first in first out)."""

    def __init__(self) -> None:
        super().__init__(max_pending=6)
        self.numbers: list[int] = []

    def _decoded(self, stats: Any, now: float, wall_ms: float, future: Any) -> None:
        super()._decoded(stats, now, wall_ms, future)
        if not future.cancelled() and future.exception() is None:
            codes: list[Code] = future.result()
            self.numbers.extend(c.number for c in codes)

    def feed(self, role: str, track: MediaStreamTrack) -> None:
        self.add_track(track, role=role)


class Heard:
    def __init__(self, session: Session) -> None:
        self.layouts: list[list[str]] = []
        self.stages: list[list[tuple[str, int]]] = []
        session.on(None, self._on)

    def _on(self, event: Event) -> None:
        if isinstance(event, LayoutChanged):
            self.layouts.append(list(event.data.participants))
        elif isinstance(event, StageChanged):
            self.stages.append([(str(e.participant_uuid), e.vad) for e in event.entries])


def rising(numbers: list[int]) -> bool:
    return all(b > a for a, b in itertools.pairwise(numbers))


def composed_in_order(numbers: list[int]) -> bool:
    """A compositor paints on its own clock: when its input is late (a loaded machine, the
    first frames) it paints the last picture again, so a number may repeat, never go back."""
    forward = all(b >= a for a, b in itertools.pairwise(numbers))
    return forward and len(set(numbers)) >= 0.75 * len(numbers)


# -- configuration ------------------------------------------------------------------------------


def test_config_file_key(tmp_path: Path) -> None:
    file = tmp_path / "emu.json"
    file.write_text(
        json.dumps(
            {
                "conferences": [
                    {
                        "aliases": ["demo"],
                        "builtin_participants": [
                            {"display_name": "Bars", "tone_hz": 440, "first_frame": 5},
                            {"audio": "silence", "video": "none"},
                        ],
                    }
                ]
            }
        )
    )
    (conf,) = load_config(file).conferences
    first, second = conf.builtin_participants
    assert (first.display_name, first.video, first.audio, first.tone_hz, first.first_frame) == (
        "Bars",
        "pattern",
        "tone",
        440.0,
        5,
    )
    assert (second.display_name, second.video, second.audio, second.first_frame) == (
        "Demo pattern",
        "none",
        "silence",
        None,
    )
    bad: list[tuple[dict[str, Any], str]] = [
        ({"builtin_participants": [{"colour": "red"}]}, "colour"),
        ({"builtin_participants": [{"video": "film"}]}, "video"),
        ({"builtin_participants": [{"first_frame": 1 << 24}]}, "first_frame"),
        ({"builtin_participants": [{}], "direct_media": True}, "transcoded conference"),
        ({"builtin_participants": [{}], "service_type": "test_call"}, "transcoded conference"),
    ]
    for extra, message in bad:
        file.write_text(json.dumps({"conferences": [{"aliases": ["demo"], **extra}]}))
        with pytest.raises(ConfigError, match=message):
            load_config(file)
    example = load_config(EXAMPLE)
    demo = next(c for c in example.conferences if "demo" in c.aliases)
    assert [b.display_name for b in demo.builtin_participants] == ["Demo pattern"]


def test_media_wanted_only_where_a_client_has_an_acked_main_call() -> None:
    from pexbot.emulator.conference.model import Conference, Participant, Room

    room = Room(id="c", conference_id="c")
    conference = Conference("c", ConferenceConfig(aliases=["demo"]), room)

    def person(uuid: str, kind: Any = "client", **kw: Any) -> Participant:
        p = Participant(uuid, uuid, "GUEST", "c", "c", "conference", 0.0, kind=kind, **kw)
        room.participants[uuid] = p
        return p

    person("bi", "builtin", has_media_override=True)
    person("mute", "builtin", has_media_override=False)
    alice = person("alice")
    assert wanted_rooms(conference) == {}
    call = Call("k", "alice", "video", None, "v=0")
    alice.calls["k"] = call
    assert wanted_rooms(conference) == {}  # not acked yet
    call.acked = True
    assert wanted_rooms(conference) == {"bi": "c"}
    call.present = "receive"  # a presentation-only call receives no main media
    assert wanted_rooms(conference) == {}
    call.present, call.closed = None, True
    assert wanted_rooms(conference) == {}


# -- roster ---------------------------------------------------------------------------------------


async def test_roster_from_the_start_and_the_conference_does_not_stay_alive() -> None:
    async with emulator("none") as emu:
        async with Session(emu.base_url, ALIAS, display_name="alice") as alice:
            await wait_until(lambda: len(alice.state.roster) == 2, what="the roster of two")
            uuid = builtin_uuid(alice)
            p = alice.state.roster[uuid]
            assert p.has_media is True and p.protocol == "webrtc" and p.role == "guest"
            assert p.service_type == "conference"
            # it joined as the conference started, just before alice (roster in join order)
            assert list(alice.state.roster) == [uuid, alice_id(alice)]
            assert abs(p.start_time - alice.state.roster[alice_id(alice)].start_time) < 5
        # alice left: the conference ended, built-in and all
        await wait_until(lambda: not emu.participants(ALIAS), what="the conference to end")
        async with Session(emu.base_url, ALIAS, display_name="bob") as bob:
            await wait_until(lambda: len(bob.state.roster) == 2, what="bob's roster")
            again = builtin_uuid(bob)
            assert again != uuid  # made afresh
            # a host may disconnect it; it does not come back while the conference runs
            await bob.participant(again).disconnect()
            await wait_until(lambda: again not in bob.state.roster, what="the built-in to go")
            async with Session(emu.base_url, ALIAS, display_name="carol") as carol:
                await wait_until(lambda: len(carol.state.roster) == 2, what="carol's roster")
                assert all(p.display_name != "Demo pattern" for p in carol.state.roster.values())
        assert builtins_of(emu).frames == {}


def alice_id(session: Session) -> str:
    return str(session.participant_uuid)


# -- media ----------------------------------------------------------------------------------------


async def test_composed_pattern_tone_layout_and_stage() -> None:
    async with emulator(tone_hz=1000) as emu:
        async with Session(emu.base_url, ALIAS, display_name="alice") as alice:
            heard = Heard(alice)
            await wait_until(lambda: len(alice.state.roster) == 2, what="the roster")
            uuid = builtin_uuid(alice)
            # no media call: the built-in makes nothing
            await asyncio.sleep(1.0)
            assert builtins_of(emu).frames == {} and not builtins_of(emu).running()

            trail = Trail()
            call = await alice.call(
                audio=SilenceAudioSource(), on_track=trail.feed, video_codec="vp8"
            )
            try:
                await wait_until(
                    lambda: sum(n >= DEFAULT_FIRST_FRAME for n in trail.numbers) >= 20,
                    what="20 built-in pattern codes",
                )
                report = trail.report().roles["main"]
                assert report.audio is not None
                await wait_until(
                    lambda: (
                        (a := trail.report().roles["main"].audio) is not None
                        and a.tone_fraction > 0.5
                        and a.markers >= 1
                    ),
                    what="the built-in's tone and its markers",
                )
                numbers = trail.numbers
                assert numbers and all(
                    DEFAULT_FIRST_FRAME <= n < DEFAULT_FIRST_FRAME + FRAME_STRIDE for n in numbers
                ), numbers[:10]
                assert composed_in_order(numbers), numbers
                # the layout names it (the only other participant), the stage hears it speak
                await wait_until(lambda: uuid in (heard.layouts or [[]])[-1], what="layout")
                assert heard.layouts[-1] == [uuid]
                await wait_until(
                    lambda: (uuid, 100) in (heard.stages or [[]])[-1], what="it speaking"
                )
                assert isinstance(emu.media, AiortcMediaBackend)
                (room_id,) = {r.room_id for r in builtins_of(emu).running().values()}
                router = emu.media.router(room_id)
                assert isinstance(router, ComposeRouter)
                assert [leg.call.participant_uuid for leg in router.legs] == [
                    alice_id(alice),
                    uuid,
                ]
            finally:
                await call.disconnect()
                await trail.close()
            # the last media call ended: the built-in stops
            await wait_until(lambda: not builtins_of(emu).running(), what="the built-in to stop")
            media = emu.media
            await wait_until(lambda: media.router(room_id) is None, what="the router to go")
            made = builtins_of(emu).frames["video"]
            await asyncio.sleep(0.5)
            assert builtins_of(emu).frames["video"] == made
            assert uuid in alice.state.roster  # still in the conference


async def test_relay_router_forwards_the_builtin_one_to_one() -> None:
    async with emulator("relay", first_frame=4_000_000) as emu:
        async with Session(emu.base_url, ALIAS, display_name="alice") as alice:
            await wait_until(lambda: len(alice.state.roster) == 2, what="the roster")
            trail = Trail()
            call = await alice.call(
                audio=SilenceAudioSource(), on_track=trail.feed, video_codec="vp8"
            )
            try:
                await wait_until(lambda: len(trail.numbers) >= 20, what="20 pattern codes")
                await wait_until(
                    lambda: (
                        (a := trail.report().roles["main"].audio) is not None
                        and a.tone_fraction > 0.5
                    ),
                    what="the tone",
                )
                numbers = trail.numbers
                assert all(4_000_000 <= n < 4_000_000 + FRAME_STRIDE for n in numbers)
                assert rising(numbers)
                video = trail.report().roles["main"].video
                assert video is not None and (video.width, video.height) == SIZE  # 1:1, full size
                # a host disconnects it mid-call: its media leaves the router at once
                (running,) = builtins_of(emu).running().values()
                assert isinstance(emu.media, AiortcMediaBackend)
                router = emu.media.router(running.room_id)
                assert isinstance(router, RelayRouter) and len(router.legs) == 2
                assert await alice.participant(builtin_uuid(alice)).disconnect()
                await wait_until(lambda: not builtins_of(emu).running(), what="it to stop")
                await wait_until(lambda: len(router.legs) == 1, what="its leg to go")
                assert router.legs[0].call.participant_uuid == alice_id(alice)
            finally:
                await call.disconnect()
                await trail.close()
