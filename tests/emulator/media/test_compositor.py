"""The composing router with real aiortc calls in process (no node, no HTTP): it paints exactly
the views it is given, mixes everybody but the listener, reports voice activity, shows the
waiting card to someone alone and a placeholder for someone without video."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from compose_kit import (
    SIZE,
    TONES,
    BackendSignalling,
    codes_in,
    inside,
    join,
    leave,
    wait_until,
)

from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.backend import MediaView
from pexbot.emulator.media.canvas import PLACEHOLDER_DISC_YUV, PLACEHOLDER_YUV
from pexbot.emulator.media.cards import is_waiting_card
from pexbot.emulator.media.compositor import ComposeRouter, compose_router_factory
from pexbot.emulator.media.layouts import tile_rects

ROOM = "room"


class Voices:
    def __init__(self) -> None:
        self.heard: list[tuple[str, str, bool]] = []

    def voice_activity(self, room_id: str, participant_uuid: str, speaking: bool) -> None:
        self.heard.append((room_id, participant_uuid, speaking))


@pytest.fixture
async def backend() -> AsyncIterator[AiortcMediaBackend]:
    b = AiortcMediaBackend(
        router_factory=compose_router_factory(size=SIZE, fps=15.0), card_size=SIZE, fps=15.0
    )
    yield b
    await b.aclose()


def router_of(backend: AiortcMediaBackend) -> ComposeRouter:
    router = backend.router(ROOM)
    assert isinstance(router, ComposeRouter)
    return router


async def test_paints_the_given_views_and_mixes_the_others(backend: AiortcMediaBackend) -> None:
    voices = Voices()
    backend.set_voice_listener(voices)
    a, b, c = [await join(BackendSignalling(backend, name), i) for i, name in enumerate("abc")]
    try:
        views = {
            "a": MediaView("2x2", ("c", "b")),
            "b": MediaView("1:0", ("a",)),
            "c": MediaView("1:0", ("a",)),
        }
        backend.set_views(ROOM, views)
        video_a = await a.received.get("video")
        audio_a = await a.received.get("audio")
        rects = tile_rects("2x2", *SIZE)

        def grid_ok() -> bool:
            if video_a.last is None:
                return False
            seen = codes_in(video_a.last)
            where = {s.who: s for s in seen}
            return (
                sorted(where) == [1, 2]
                and inside(where[2], rects[0])  # c in the main position, as the view says
                and inside(where[1], rects[1])
                and all(s.module < 6 for s in seen)  # scaled into tiles (module 8 → 4)
            )

        await wait_until(grid_ok, what="c and b in a's 2x2 tiles 0 and 1, a nowhere")
        assert router_of(backend).painted[backend.leg(a.call.call_uuid or "")] == views["a"]
        # the last two tiles are empty: black
        luma = np.asarray(video_a.last.to_ndarray()[: SIZE[1]])  # type: ignore[union-attr]
        assert luma[rects[2].y + 5 :, : SIZE[0]].max() < 40

        # a hears b and c, not itself (mix minus); all three were heard speaking
        await wait_until(lambda: len(audio_a.pcm) >= 30, what="a second of audio at a")

        def mix_minus() -> bool:
            # Judged on a window that may hold a late packet's gap on a loaded machine: wait for
            # a clean half second rather than read the first one.
            own, tone_b, tone_c = audio_a.tone_levels(TONES[:3])
            return tone_b > 0.1 and tone_c > 0.1 and own < tone_b / 30

        await wait_until(mix_minus, within=15, what="b and c heard at a, a not")
        await wait_until(
            lambda: {(r, p) for r, p, on in voices.heard if on} >= {(ROOM, n) for n in "abc"},
            what="voice activity of a, b and c",
        )

        # a switches to 1:0 with b in the main position: only b, full frame
        backend.set_views(ROOM, {**views, "a": MediaView("1:0", ("b",))})
        switched = time.monotonic()

        def main_only() -> bool:
            if video_a.last is None or video_a.last_at < switched:
                return False
            seen = codes_in(video_a.last)
            return [s.who for s in seen] == [1] and seen[0].module > 7

        await wait_until(main_only, what="only b, full size, at a")
    finally:
        await leave(a, b, c)
    # everyone left: the room's router is closed and forgotten
    assert backend.router(ROOM) is None
    assert {(r, p) for r, p, on in voices.heard if not on} == {(ROOM, n) for n in "abc"}


async def test_waiting_card_alone_then_placeholder_for_audio_only(
    backend: AiortcMediaBackend,
) -> None:
    a = await join(BackendSignalling(backend, "a"), 0)
    d = None
    try:
        video_a = await a.received.get("video")
        await wait_until(
            lambda: video_a.last is not None and is_waiting_card(video_a.last),
            what="the waiting card while alone",
        )
        # no node: everyone sees the room's layout in join order (1:7 by default)
        d = await join(BackendSignalling(backend, "d"), 3, audio_only=True)
        main = tile_rects("1:7", *SIZE)[0]
        joined = time.monotonic()

        def placeholder() -> bool:
            if video_a.last is None or video_a.last_at < joined:
                return False
            luma = np.asarray(video_a.last.to_ndarray()[: SIZE[1]], np.int32)
            corner = luma[main.y + 4 : main.y + 12, main.x + 4 : main.x + 12].mean()
            centre = luma[main.y + main.h // 2, main.x + main.w // 2]
            return bool(
                abs(corner - PLACEHOLDER_YUV[0]) < 12
                and abs(centre - PLACEHOLDER_DISC_YUV[0]) < 12
                and not is_waiting_card(video_a.last)
            )

        await wait_until(placeholder, what="d's placeholder in a's main tile")
        assert router_of(backend).view_of(backend.leg(a.call.call_uuid or "")) == MediaView(
            "1:7", ("d",)
        )
        # d, audio only, hears a's tone
        audio_d = await d.received.get("audio")
        await wait_until(lambda: len(audio_d.pcm) >= 30, what="audio at d")
        await wait_until(lambda: audio_d.tone_levels((TONES[0],))[0] > 0.1, what="a's tone at d")
    finally:
        await leave(a, *([d] if d else []))


async def test_test_call_loops_back_under_the_compositor(backend: AiortcMediaBackend) -> None:
    a = await join(BackendSignalling(backend, "a", "probe", service_type="test_call"), 0)
    try:
        video_a = await a.received.get("video")
        audio_a = await a.received.get("audio")
        await wait_until(
            lambda: (
                video_a.last is not None
                and [s.who for s in codes_in(video_a.last)] == [0]
                and codes_in(video_a.last)[0].module > 7
            ),
            what="a's own pattern, full size",
        )
        await wait_until(lambda: len(audio_a.pcm) >= 30, what="audio at a")
        await wait_until(lambda: audio_a.tone_levels((TONES[0],))[0] > 0.1, what="a's own tone")
    finally:
        await leave(a)
