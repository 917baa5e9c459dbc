"""Over real HTTP with the emulator's default media (a transcoded conference): the ``layout``
event each participant gets names exactly the tiles of the picture it receives, both follow
``transform_layout`` (2x2 → view "4:0", 1:0), and the stage follows who speaks."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

from compose_kit import SIZE, TONES, Party, codes_in, inside, join, leave, wait_until

from pexbot import wire
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.backend import MediaView
from pexbot.emulator.media.compositor import ComposeRouter
from pexbot.emulator.media.layouts import tile_rects
from pexbot.events import Event, LayoutChanged, StageChanged
from pexbot.session.session import Session


class Heard:
    """Every layout and stage event one session got, with its arrival time."""

    def __init__(self, session: Session) -> None:
        self.layouts: list[tuple[float, wire.events.LayoutData]] = []
        self.stages: list[tuple[float, list[Any]]] = []
        session.on(None, self._on)

    def _on(self, event: Event) -> None:
        if isinstance(event, LayoutChanged):
            self.layouts.append((time.monotonic(), event.data))
        elif isinstance(event, StageChanged):
            self.stages.append((time.monotonic(), list(event.entries)))

    def layout(self) -> wire.events.LayoutData:
        assert self.layouts, "no layout event yet"
        return self.layouts[-1][1]


@contextlib.asynccontextmanager
async def conference(names: str) -> AsyncIterator[tuple[Emulator, list[Session]]]:
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])
    async with Emulator(config, media_size=SIZE, media_fps=15.0) as emu:
        async with contextlib.AsyncExitStack() as stack:
            sessions = [
                await stack.enter_async_context(Session(emu.base_url, "meet", display_name=n))
                for n in names
            ]
            yield emu, sessions


async def matches_picture(party: Party, heard: Heard, index_of: dict[str, int]) -> bool:
    """Whether a picture received after the last layout event shows exactly its tiles."""
    layout = heard.layout()
    moment = heard.layouts[-1][0] + 0.3
    picture = await (await party.received.get("video")).picture_after(moment)
    if heard.layout() is not layout:
        return False  # the layout changed meanwhile: look again
    view = {"4:0": "2x2"}.get(layout.view, layout.view)
    rects = tile_rects(view, *SIZE)
    seen = {s.who: s for s in codes_in(picture)}
    expected = [index_of[uuid] for uuid in layout.participants]
    return sorted(seen) == sorted(expected) and all(
        inside(seen[who], rects[tile]) for tile, who in enumerate(expected)
    )


async def test_layout_events_name_the_tiles_of_the_picture() -> None:
    async with conference("abcd") as (emu, (sa, sb, sc, sd)):
        assert isinstance(emu.media, AiortcMediaBackend)  # the default media
        heard_a, heard_d = Heard(sa), Heard(sd)
        index_of = {str(s.participant_uuid): i for i, s in enumerate((sa, sb, sc))}
        a = await join(sa.call_signalling(), 0)
        b = await join(sb.call_signalling(), 1)
        c = await join(sc.call_signalling(), 2, silent=True)  # d: no media call (API only)
        try:
            room = emu.node.conference_by_alias("meet")
            assert room is not None
            router = emu.media.router(room.id)
            assert isinstance(router, ComposeRouter)

            # the stage follows voice: a and b speak (tones), c is silent and last
            def stage_ok() -> bool:
                if not sa.state.stage:
                    return False
                vad = {e.participant_uuid: e.vad for e in sa.state.stage}
                last = sa.state.stage[-1].participant_uuid
                return (
                    vad
                    == {sa.participant_uuid: 100, sb.participant_uuid: 100, sc.participant_uuid: 0}
                    and last == sc.participant_uuid
                )

            await wait_until(stage_ok, what="a and b speaking, c silent, on a's stage")

            assert await sa.conference.transform_layout(wire.Transforms(layout="2x2"))
            await wait_until(lambda: heard_a.layout().view == "4:0", what="layout 4:0 at a")
            layout = heard_a.layout()
            assert layout.requested_layout == "2x2"
            assert layout.participants == [sb.participant_uuid, sc.participant_uuid]
            # what the compositor paints for a is that very list
            leg_a = emu.media.leg(a.call.call_uuid or "")
            await wait_until(
                lambda: router.painted.get(leg_a) == MediaView("2x2", tuple(layout.participants)),
                what="a's 2x2 painted",
            )
            for _ in range(5):
                if await matches_picture(a, heard_a, index_of):
                    break
            else:
                raise AssertionError("a's picture never matched its layout event")

            # 1:0: only the main speaker, full frame: b (c is silent, a does not see itself)
            assert await sa.conference.transform_layout(wire.Transforms(layout="1:0"))
            await wait_until(lambda: heard_a.layout().view == "1:0", what="layout 1:0 at a")
            assert heard_a.layout().participants == [sb.participant_uuid]
            video_a = await a.received.get("video")
            picture = await video_a.picture_after(heard_a.layouts[-1][0] + 0.3)
            seen = codes_in(picture)
            assert [s.who for s in seen] == [1] and seen[0].module > 7, seen
            # b's main speaker is a; an API-only participant is shown nothing (spec)
            last_b = emu.node.stage_views.last_layout(str(sb.participant_uuid))
            assert last_b is not None and last_b["participants"] == [sa.participant_uuid]
            assert heard_d.layouts and all(not d.participants for _, d in heard_d.layouts)

            # a hears b (c is silent) and not itself
            audio_a = await a.received.get("audio")
            own, tone_b = audio_a.tone_levels((TONES[0], TONES[1]))
            assert tone_b > 0.1 and own < tone_b / 30, (own, tone_b)

            # voice-driven stage changes (after the roster of three) are rate limited; a and b
            # starting to speak together came as one event
            times = [t for t, _ in heard_a.stages]
            first_voiced = next(i for i, (_, s) in enumerate(heard_a.stages) if len(s) == 3) + 1
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            assert all(g > 0.3 for g in gaps[first_voiced - 1 :]), gaps
        finally:
            await leave(a, b, c)
