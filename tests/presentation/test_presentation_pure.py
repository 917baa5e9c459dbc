"""Presentation parts without sockets: the JPEG encode (emulator) / decode (client) round trip,
the JPEG receiver's pacing, and the controller's decisions against a recording stand-in call."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from media.analyser import luma_plane
from media.pattern import find_codes
from media.presenter import stamp_frame
from media.synthetic import PatternRenderer
from pexbot.call.options import CallOptions
from pexbot.emulator.conference.presentation import LOW_MAX_WIDTH, encode_image, encode_jpeg
from pexbot.errors import FloorDenied, TransportError
from pexbot.events import PresentationFrame, PresentationStarted, PresentationStopped
from pexbot.presentation.controller import PresentationController
from pexbot.presentation.jpeg import JpegPresentationReceiver, decode_jpeg
from pexbot.rtc.sdp import Direction, MediaRole


def coded_frame(number: int, size: tuple[int, int] = (320, 180)) -> VideoFrame:
    picture = VideoFrame.from_ndarray(PatternRenderer(*size).render(0, 0), format="yuv420p")
    picture.pts = 0
    picture.time_base = fractions.Fraction(1, 90000)
    return stamp_frame(picture, number, 4242, 4)


def numbers(frame: VideoFrame) -> set[int]:
    return {c.number for c in find_codes(luma_plane(frame))}


def test_jpeg_round_trip_keeps_codes_readable() -> None:
    data = encode_jpeg(coded_frame(77))
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    back = decode_jpeg(data)
    assert (back.width, back.height, back.format.name) == (320, 180, "yuv420p")
    assert 77 in numbers(back)


def test_low_jpeg_is_at_most_1280_wide_high_is_full_size() -> None:
    image = encode_image(coded_frame(5, (1920, 1080)), "9")
    low, high = decode_jpeg(image.jpeg), decode_jpeg(image.jpeg_high)
    assert (high.width, high.height) == (1920, 1080)
    assert (low.width, low.height) == (LOW_MAX_WIDTH, 720)
    assert 5 in numbers(high) and 5 in numbers(low)
    small = encode_image(coded_frame(6), "10")
    assert small.jpeg is small.jpeg_high  # nothing to scale down


async def test_jpeg_receiver_fetches_newest_only_while_active() -> None:
    fetched: list[str] = []
    gate = asyncio.Event()
    jpeg = encode_jpeg(coded_frame(1))

    async def fetch(frame_id: str, high: bool) -> bytes:
        fetched.append(frame_id)
        await gate.wait()
        if frame_id == "bad":
            raise TransportError("GET presentation.jpeg failed")
        return jpeg

    receiver = JpegPresentationReceiver(fetch, min_interval=0.0)
    task = asyncio.get_running_loop().create_task(receiver.run())
    try:
        receiver.offer("1")  # inactive: remembered, not fetched
        await asyncio.sleep(0.05)
        assert fetched == []
        receiver.set_active(True)  # the remembered id is fetched now
        await asyncio.sleep(0.05)
        assert fetched == ["1"]
        for frame_id in ("2", "3", "4"):  # while "1" is in flight: only the newest survives
            receiver.offer(frame_id)
        gate.set()
        first = await asyncio.wait_for(receiver.track.recv(), 5)
        second = await asyncio.wait_for(receiver.track.recv(), 5)
        assert fetched == ["1", "4"] and receiver.skipped == 2
        assert 1 in numbers(first) and second.pts is not None and first.pts is not None
        assert second.pts > first.pts
        receiver.offer("bad")
        await asyncio.sleep(0.1)
        assert receiver.failures == 1 and receiver.frames == 2
        receiver.set_active(False)
        receiver.offer("5")
        await asyncio.sleep(0.05)
        assert fetched[-1] == "bad"
    finally:
        receiver.close()
        await asyncio.wait_for(task, 5)
    with pytest.raises(MediaStreamError):
        await receiver.track.recv()


# -- the controller against a stand-in call -----------------------------------------------------


class StandInCall:
    """Records what the controller asks of a media call (the real one is in the e2e tests)."""

    def __init__(self, roles: list[MediaRole], *, deny: bool = False) -> None:
        self.options = CallOptions()
        self.roles = roles
        self.presenting = False
        self.slides_direction: Direction = "inactive"
        self.ended = asyncio.Event()
        self.ops: list[str] = []
        self.deny = deny

    async def start_presenting(self, track: MediaStreamTrack) -> None:
        self.ops.append("take_floor")
        if self.deny:
            raise FloorDenied("participants/x/take_floor", 403, "Presentation is not allowed")
        self.presenting, self.slides_direction = True, "sendonly"
        self.ops.append("sendonly")

    async def stop_presenting(self) -> None:
        self.presenting, self.slides_direction = False, "inactive"
        self.ops += ["release_floor", "inactive"]

    async def yield_presentation(self) -> None:
        self.presenting, self.slides_direction = False, "recvonly"
        self.ops += ["release_floor", "recvonly"]

    async def receive_presentation(self) -> None:
        self.slides_direction = "recvonly"
        self.ops.append("recvonly")

    async def stop_receiving_presentation(self) -> None:
        self.slides_direction = "inactive"
        self.ops.append("inactive")


class Source(MediaStreamTrack):
    kind = "video"

    async def recv(self) -> VideoFrame:
        raise MediaStreamError


ME, OTHER = "me-uuid", "other-uuid"


@pytest.fixture
async def controller() -> AsyncIterator[tuple[PresentationController, list[str]]]:
    tasks: list[asyncio.Task[None]] = []
    released: list[str] = []

    def spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        tasks.append(asyncio.get_running_loop().create_task(coro))
        return tasks[-1]

    async def fetch(frame_id: str, high: bool) -> bytes:
        return encode_jpeg(coded_frame(int(frame_id)))

    async def release() -> None:
        released.append("release_floor")

    c = PresentationController(
        me=lambda: ME, spawn=spawn, fetch_jpeg=fetch, release_floor=release, jpeg_interval=0.0
    )
    yield c, released
    await c.close()
    assert all(t.done() for t in tasks)


async def settle(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_taken_over_stops_tells_and_follows(
    controller: tuple[PresentationController, list[str]],
) -> None:
    c, _ = controller
    call = StandInCall(["audio", "video", "slides"])
    c.attach_call(call, None)
    source = Source()
    told: list[str] = []
    c.on_stopped(lambda notice: told.append(notice.reason))
    await c.start(source, close_source=True)
    assert c.sending and c.source is source and call.ops == ["take_floor", "sendonly"]

    # our own presentation_start, a revocation and a presentation_stop change nothing
    c.on_event(PresentationStarted(presenter_name="me", presenter_uuid=ME))
    c.on_event(PresentationStarted())
    c.on_event(PresentationStopped())
    await asyncio.sleep(0.05)
    assert c.sending and call.ops == ["take_floor", "sendonly"]

    other = PresentationStarted(presenter_name="Other", presenter_uuid=OTHER, source="video")
    c.on_event(other)
    notice = await asyncio.wait_for(c.wait_stopped(), 5)
    assert (notice.reason, notice.taken_by) == ("taken_over", other)
    assert "Other" in notice.detail and told == ["taken_over"]
    await settle(lambda: c.receiving == "video")
    assert call.ops[2:] == ["release_floor", "recvonly"]  # one renegotiation, then no more
    assert not c.sending and source.readyState == "ended" and c.presenter is other

    c.on_event(PresentationStopped())
    await settle(lambda: c.receiving is None)
    assert call.ops[-1] == "inactive"


async def test_floor_denied_changes_nothing(
    controller: tuple[PresentationController, list[str]],
) -> None:
    c, _ = controller
    call = StandInCall(["audio", "video", "slides"], deny=True)
    c.attach_call(call, None)
    source = Source()
    with pytest.raises(FloorDenied):
        await c.start(source, close_source=True)
    assert not c.sending and call.ops == ["take_floor"] and source.readyState == "ended"


async def test_call_end_while_presenting_releases_the_floor(
    controller: tuple[PresentationController, list[str]],
) -> None:
    c, released = controller
    call = StandInCall(["audio", "video", "slides"])
    c.attach_call(call, None)
    await c.start(Source())
    call.ended.set()
    notice = await asyncio.wait_for(c.wait_stopped(), 5)
    assert notice.reason == "call_ended" and released == ["release_floor"]


async def test_no_slides_line_receives_jpegs_on_the_calls_on_track(
    controller: tuple[PresentationController, list[str]],
) -> None:
    c, _ = controller
    call = StandInCall(["audio", "video"])
    given: list[tuple[str, MediaStreamTrack]] = []
    c.attach_call(call, lambda role, track: given.append((role, track)))
    c.on_event(PresentationStarted(presenter_name="Other", presenter_uuid=OTHER))
    await settle(lambda: c.receiving == "jpeg")
    assert given == [("presentation", c.jpeg_track)]
    c.on_event(PresentationFrame(event_id="31"))
    frame = await asyncio.wait_for(c.jpeg_track.recv(), 5)
    assert 31 in numbers(frame)
    c.on_event(PresentationStopped())
    await settle(lambda: c.receiving is None)
    assert not c.jpeg_receiver.active and call.ops == []
