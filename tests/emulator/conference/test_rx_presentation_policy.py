"""``allowrxpresentation`` / ``denyrxpresentation`` honoured by the emulator.

Signalling over real HTTP (raw clients, no media): the participant resource and
``participant_update`` carry ``rx_presentation_policy``; a denied participant is sent no
``presentation_start`` / ``presentation_stop`` / ``presentation_frame`` (not even on opening an
event stream), is sent ``presentation_stop`` when denied during a presentation and
``presentation_start`` when allowed again, and gets 403 from the JPEG routes. The routers (relay
and compose, in process) give a denied leg the filler on its slides line. With real media
(pexbots, aiortc on loopback, the relay): a denied participant whose slides line is recvonly
gets none of the presenter's pictures while an allowed one does, and gets them once allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame
from compose_kit import NumberedPattern
from emu_helpers import Client
from router_kit import slides_leg

from media.pattern import find_codes
from media.synthetic import SilenceAudioSource
from pexbot import Session
from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.backend import MediaPolicy
from pexbot.emulator.media.compositor import ComposeRouter
from pexbot.emulator.media.router import RelayRouter

HOST_PIN = "1234"
GUEST_PIN = "5678"
PRESENTER_FIRST = 5_000_000  # the presenter's pattern numbers start here
SIZE = (320, 180)


def sent(emu: Emulator, name: str) -> list[tuple[str, Any]]:
    """(recipient uuid, data) of every ``name`` event the node sent, in order."""
    return [(e.participant_uuid, e.data) for e in emu.traffic.events if e.event == name]


def recipients(emu: Emulator, name: str) -> list[str]:
    return sorted(uuid for uuid, _ in sent(emu, name))


async def settle(emu: Emulator, name: str, count: int) -> None:
    for _ in range(250):
        if len(sent(emu, name)) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} {name} events not sent: {sent(emu, name)}")


async def jpeg_status(http: aiohttp.ClientSession, who: Client, frame_id: str) -> int:
    for name in ("presentation.jpeg", "presentation_high.jpeg"):
        url = f"{who.url}/{name}"
        async with http.get(url, params={"id": frame_id}, headers={"token": who.token}) as resp:
            await resp.read()
            status = resp.status
        if name == "presentation.jpeg":
            first = status
        else:
            assert status == first, (name, status, first)  # both routes say the same
    return first


async def policy_of(host: Client, uuid: str) -> str:
    status, body = await host.get("participants")
    assert status == 200
    (found,) = [p for p in body["result"] if p["uuid"] == uuid]
    return str(found["rx_presentation_policy"])


@pytest.fixture
async def people(
    client: Callable[..., Client],
) -> tuple[Client, Client, Client, Client]:
    host, presenter, denied, other = client(), client(), client(), client()
    await host.join("host", pin=HOST_PIN)
    await presenter.join("presenter", pin=HOST_PIN)
    await denied.join("denied", pin=GUEST_PIN)
    await other.join("other", pin=GUEST_PIN)
    return host, presenter, denied, other


# -- signalling -----------------------------------------------------------------------------------


async def test_denied_participant_is_told_nothing_and_gets_403(
    emu: Emulator,
    http: aiohttp.ClientSession,
    people: tuple[Client, Client, Client, Client],
) -> None:
    host, presenter, denied, other = people
    watching = await other.events()
    assert await policy_of(host, denied.uuid) == "ALLOW"  # the default

    # a guest may not change anyone's policy, not even its own
    status, _ = await denied.post(f"participants/{denied.uuid}/denyrxpresentation")
    assert status == 403
    assert await policy_of(host, denied.uuid) == "ALLOW"

    # denied: the resource and participant_update say so
    status, body = await host.post(f"participants/{denied.uuid}/denyrxpresentation")
    assert (status, body["result"]) == (200, True)
    update = await watching.next("participant_update")
    assert (update["uuid"], update["rx_presentation_policy"]) == (denied.uuid, "DENY")
    assert await policy_of(host, denied.uuid) == "DENY"
    # with nobody presenting: 403 for the denied, 404 for others
    assert await jpeg_status(http, denied, "1") == 403
    assert await jpeg_status(http, other, "1") == 404

    # a presentation starts: everyone but the presenter and the denied is told, and gets frames
    emu.traffic.clear()
    status, _ = await presenter.post(f"participants/{presenter.uuid}/take_floor")
    assert status == 200
    await settle(emu, "presentation_start", 2)
    await settle(emu, "presentation_frame", 2)
    await asyncio.sleep(0.3)
    assert recipients(emu, "presentation_start") == sorted([host.uuid, other.uuid])
    assert recipients(emu, "presentation_frame") == sorted([host.uuid, other.uuid])
    frame_ids = [e.id for e in emu.traffic.events if e.event == "presentation_frame"]
    frame_id = str(frame_ids[-1])
    assert await jpeg_status(http, other, frame_id) == 200
    assert await jpeg_status(http, denied, frame_id) == 403

    # the denied opening an event stream now: the roster, no presentation_start
    late = await denied.events()
    early = await late.drain()
    names = [name for name, _ in early]
    assert "layout" in names and "presentation_start" not in names, names
    # while others opening one do get it
    other_late = await other.events()
    assert "presentation_start" in [name for name, _ in await other_late.drain()]

    # allowed during the presentation: participant_update, then presentation_start to it alone
    emu.traffic.clear()
    status, _ = await host.post(f"participants/{denied.uuid}/allowrxpresentation")
    assert status == 200
    start = await late.next("presentation_start")
    assert start["presenter_uuid"] == presenter.uuid
    assert recipients(emu, "presentation_start") == [denied.uuid]
    assert [d["rx_presentation_policy"] for u, d in sent(emu, "participant_update")][-1] == "ALLOW"
    assert await jpeg_status(http, denied, frame_id) == 200
    # allowing again changes nothing more
    status, _ = await host.post(f"participants/{denied.uuid}/allowrxpresentation")
    assert status == 200
    await asyncio.sleep(0.2)
    assert recipients(emu, "presentation_start") == [denied.uuid]

    # denied during the presentation: presentation_stop to it alone
    emu.traffic.clear()
    status, _ = await host.post(f"participants/{denied.uuid}/denyrxpresentation")
    assert status == 200
    assert await late.next("presentation_stop") is None
    assert recipients(emu, "presentation_stop") == [denied.uuid]
    assert await jpeg_status(http, denied, frame_id) == 403

    # the presentation ends: presentation_stop to those who were told of it only
    emu.traffic.clear()
    status, _ = await presenter.post(f"participants/{presenter.uuid}/release_floor")
    assert status == 200
    await settle(emu, "presentation_stop", 2)
    await asyncio.sleep(0.3)
    assert recipients(emu, "presentation_stop") == sorted([host.uuid, other.uuid])
    assert "presentation_stop" not in [name for name, _ in await late.drain()]


async def test_denied_presenter_taken_over_learns_it_then_stops(
    emu: Emulator, people: tuple[Client, Client, Client, Client]
) -> None:
    host, presenter, denied, other = people
    # a denied participant may still present (the policy is about receiving)
    status, _ = await host.post(f"participants/{presenter.uuid}/denyrxpresentation")
    assert status == 200
    status, _ = await presenter.post(f"participants/{presenter.uuid}/take_floor")
    assert status == 200
    room = emu.node.conference_by_alias("meet").main  # type: ignore[union-attr]
    assert room.presenter_uuid == presenter.uuid

    # the host takes the floor: the denied old presenter is told who (so it stops sending), and
    # at once that it receives nothing
    emu.traffic.clear()
    status, _ = await host.post(f"participants/{host.uuid}/take_floor")
    assert status == 200
    await settle(emu, "presentation_start", 3)
    await settle(emu, "presentation_stop", 1)
    assert room.presenter_uuid == host.uuid
    to_presenter = [
        (e.event, e.data)
        for e in emu.traffic.events
        if e.participant_uuid == presenter.uuid and e.event.startswith("presentation_")
    ]
    assert [name for name, _ in to_presenter][:2] == ["presentation_start", "presentation_stop"]
    assert to_presenter[0][1]["presenter_uuid"] == host.uuid
    assert recipients(emu, "presentation_start") == sorted(
        [presenter.uuid, denied.uuid, other.uuid]
    )
    assert recipients(emu, "presentation_stop") == [presenter.uuid]


# -- the routers, in process ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["relay", "compose"])
async def test_router_gives_a_denied_leg_no_slides(kind: str) -> None:
    router = RelayRouter("room") if kind == "relay" else ComposeRouter("room", size=SIZE)
    a, b, c = slides_leg("a"), slides_leg("b"), slides_leg("c")
    try:
        for each in (a, b, c):
            router.leg_added(each)
        a.sending.add("slides")
        router.inputs_changed(a)
        router.set_presenter("a")
        assert b.outputs["slides"].source is not None
        assert c.outputs["slides"].source is not None

        router.policy_changed(MediaPolicy(slides_denied=frozenset({"c"})))
        assert b.outputs["slides"].source is not None
        assert c.outputs["slides"].source is None  # the filler
        router.policy_changed(MediaPolicy())
        assert c.outputs["slides"].source is not None
    finally:
        await router.aclose()


# -- real media -----------------------------------------------------------------------------------


class SlidesWatch:
    """``on_track`` keeping the newest frame of the ``presentation`` track and a frame count."""

    def __init__(self) -> None:
        self.frames = 0
        self.last: VideoFrame | None = None
        self._task: asyncio.Task[None] | None = None

    def __call__(self, role: str, track: MediaStreamTrack) -> None:
        if role == "presentation" and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.frames += 1
                    self.last = frame

    def presenter_codes(self) -> list[int]:
        """Pattern numbers of the presenter in the newest frame."""
        if self.last is None:
            return []
        found = find_codes(self.last.to_ndarray(format="rgb24"))
        return [c.number for c in found if c.number >= PRESENTER_FIRST]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def wait_until(predicate: Callable[[], bool], within: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def relay_emulator() -> AsyncIterator[Emulator]:
    backend = AiortcMediaBackend(router_factory=RelayRouter, card_size=SIZE, fps=10.0)
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])  # all hosts
    async with Emulator(config, media=backend) as emu:
        yield emu


async def test_denied_slides_line_gets_no_presentation_media() -> None:
    bob_sees, carol_sees = SlidesWatch(), SlidesWatch()
    async with (
        relay_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
        Session(emu.base_url, "meet", display_name="carol") as carol,
    ):
        kw: dict[str, Any] = {"video_codec": "vp8", "audio": SilenceAudioSource()}
        call_a = await alice.call(**kw)
        call_b = await bob.call(on_track=bob_sees, **kw)
        call_c = await carol.call(on_track=carol_sees, **kw)
        try:
            carol_id = carol.participant_uuid or ""
            assert await bob.participant(carol_id).deny_rx_presentation()
            # carol's client asks for slides anyway (it is told of no presentation)
            await call_c.receive_presentation()
            await alice.presentation.start(NumberedPattern(PRESENTER_FIRST), close_source=True)
            await wait_until(lambda: bool(bob_sees.presenter_codes()), what="bob sees slides")
            assert isinstance(emu.media, AiortcMediaBackend)
            slides_b = emu.media.leg(call_b.call_uuid or "").outputs["slides"]
            slides_c = emu.media.leg(call_c.call_uuid or "").outputs["slides"]
            # carol's slides line is live (the filler arrives) but carries none of alice's
            await wait_until(lambda: carol_sees.frames >= 10, what="carol's slides line")
            seen: list[int] = []
            for _ in range(15):
                await asyncio.sleep(0.1)
                seen += carol_sees.presenter_codes()
            assert seen == [], seen[:5]
            assert slides_c.source is None and slides_c.source_frames == 0
            assert slides_b.source_frames > 0
            assert carol.presentation.receiving is None

            # allowed: told of the presentation, and alice's slides reach her
            assert await bob.participant(carol_id).allow_rx_presentation()
            await wait_until(lambda: bool(carol_sees.presenter_codes()), what="carol sees slides")
            assert slides_c.source_frames > 0
        finally:
            for call in (call_a, call_b, call_c):
                await call.disconnect()
            await bob_sees.close()
            await carol_sees.close()
