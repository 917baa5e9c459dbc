"""The compositor's pure parts, without sockets: layout geometry, letterboxing, painting tiles,
the stage order, and the node's views / layout events / stage rate limit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from av import VideoFrame

from media.pattern import find_codes
from media.synthetic import PatternRenderer
from pexbot.emulator import EmulatorConfig, Node
from pexbot.emulator.conference import ops_conference
from pexbot.emulator.conference.model import Call, Participant
from pexbot.emulator.conference.timers import Timers
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.backend import MediaView, NullMediaBackend
from pexbot.emulator.media.canvas import PLACEHOLDER_DISC_YUV, PLACEHOLDER_YUV, Painter, Tile
from pexbot.emulator.media.layouts import Rect, capacity, fit, tile_rects, view_name
from pexbot.emulator.media.speakers import StageOrder
from pexbot.wire import RequestTokenBody, TransformLayoutBody, Transforms


def covers(rects: list[Rect], width: int, height: int) -> bool:
    """The rectangles tile the canvas exactly: no overlap, no gap."""
    painted = np.zeros((height, width), np.int32)
    for r in rects:
        painted[r.y : r.y + r.h, r.x : r.x + r.w] += 1
    return bool((painted == 1).all())


@pytest.mark.parametrize(
    ("layout", "tiles"),
    [("1:0", 1), ("1:7", 8), ("2x2", 4), ("3x3", 9), ("1:21", 22), ("2:21", 23), ("ac", 12)],
)
def test_layouts_tile_the_canvas_with_even_edges(layout: str, tiles: int) -> None:
    for width, height in ((640, 360), (320, 180), (1280, 720)):
        rects = tile_rects(layout, width, height)
        assert len(rects) == capacity(layout) == tiles
        assert covers(rects, width, height)
        assert all(v % 2 == 0 for r in rects for v in (r.x, r.y, r.w, r.h))


def test_layout_shapes() -> None:
    assert tile_rects("1:0", 640, 360) == [Rect(0, 0, 640, 360)]
    grid = tile_rects("2x2", 640, 360)
    assert grid == [
        Rect(0, 0, 320, 180),
        Rect(320, 0, 320, 180),
        Rect(0, 180, 320, 180),
        Rect(320, 180, 320, 180),
    ]
    main, *small = tile_rects("1:7", 640, 360)
    # main speaker on top, seven small tiles in a strip below it, left to right
    assert (main.x, main.y, main.w) == (0, 0, 640) and main.h > 300
    assert [r.y for r in small] == [main.h] * 7
    assert [r.x for r in small] == sorted(r.x for r in small)
    pip = tile_rects("1:1", 640, 360)
    assert pip[0] == Rect(0, 0, 640, 360) and pip[1].x > 320 and pip[1].y > 180
    assert capacity("no-such-layout") == capacity("1:7")


def test_view_names_follow_the_spec() -> None:
    assert [view_name(n) for n in ("2x2", "3x3", "4x4", "5x5", "ac", "1:0", "1:7")] == [
        "4:0",
        "9:0",
        "16:0",
        "25:0",
        "5:7",
        "1:0",
        "1:7",
    ]


def test_fit_letterboxes_and_pillarboxes() -> None:
    tile = Rect(100, 50, 320, 180)
    assert fit(tile, 1280, 720) == tile  # same aspect: the whole tile
    boxed = fit(tile, 640, 640)  # square source: bars left and right
    assert (boxed.w, boxed.h) == (180, 180) and boxed.x == 170 and boxed.y == 50
    wide = fit(tile, 1000, 200)  # very wide: bars above and below
    assert wide.w == 320 and wide.h == 64 and wide.y == 108
    assert fit(tile, 0, 10).empty


def pattern_frame(number: int, width: int = 320, height: int = 180) -> VideoFrame:
    renderer = PatternRenderer(width, height, module=8)
    return VideoFrame.from_ndarray(renderer.render(number, 0), format="yuv420p")


def test_painter_puts_each_source_in_its_tile_and_caches_scaling() -> None:
    painter = Painter()
    rects = tile_rects("2x2", 640, 360)
    tiles = [
        Tile(rects[0], pattern_frame(111), source=1, seq=1),
        Tile(rects[1]),  # someone without video: placeholder
        Tile(rects[2], pattern_frame(333, 640, 480), source=3, seq=1),  # 4:3: pillarboxed
        Tile(rects[3], occupied=False),  # nobody: black
    ]
    picture = painter.paint(640, 360, tiles)
    assert (picture.width, picture.height, picture.format.name) == (640, 360, "yuv420p")
    codes = {c.number: c for c in find_codes(picture.to_ndarray(format="rgb24"))}
    assert set(codes) == {111, 333}
    assert rects[0].x <= codes[111].x < rects[0].x + rects[0].w
    assert rects[0].y <= codes[111].y < rects[0].y + rects[0].h
    assert rects[2].x <= codes[333].x < rects[2].x + rects[2].w
    assert rects[2].y <= codes[333].y < rects[2].y + rects[2].h
    luma = np.asarray(picture.to_ndarray()[:360])
    holder = luma[0:180, 320:640]
    assert holder[5, 5] == PLACEHOLDER_YUV[0] and holder[90, 160] == PLACEHOLDER_DISC_YUV[0]
    assert (luma[180:360, 320:640] == 16).all()
    pillar = luma[180:360, 0:320]
    assert (pillar[:, :40] == 16).all() and (pillar[:, -40:] == 16).all()
    assert painter.scaled == 2
    painter.paint(640, 360, tiles)  # same frames again: nothing to rescale
    assert painter.scaled == 2
    painter.paint(640, 360, [Tile(rects[0], pattern_frame(112), source=1, seq=2)])
    assert painter.scaled == 3


@dataclass
class Member:
    uuid: str
    spotlight: float = 0
    start_time: float = 0


def test_stage_order_speakers_spotlight_and_join_order() -> None:
    a, b, c, d = (Member(n, start_time=i) for i, n in enumerate("abcd"))
    order = StageOrder()
    assert [m.uuid for m in order.order([d, c, b, a])] == ["a", "b", "c", "d"]
    assert order.voice("c", True) and not order.voice("c", True)
    assert [m.uuid for m in order.order([a, b, c, d])] == ["c", "a", "b", "d"]
    order.voice("b", True)  # c keeps the main position while b chimes in
    assert [m.uuid for m in order.order([a, b, c, d])] == ["c", "b", "a", "d"]
    order.voice("c", False)
    assert [m.uuid for m in order.order([a, b, c, d])] == ["b", "c", "a", "d"]
    order.voice("b", False)  # both quiet: most recent speaker first
    assert [m.uuid for m in order.order([a, b, c, d])] == ["b", "c", "a", "d"]
    d.spotlight, a.spotlight = 5.0, 9.0  # spotlight beats speech; first spotlit first
    assert [m.uuid for m in order.order([a, b, c, d])] == ["d", "a", "b", "c"]
    order.forget("b")
    assert [m.uuid for m in order.order([a, b, c, d])] == ["d", "a", "c", "b"]


class ViewsBackend(NullMediaBackend):
    """Signalling-only backend that records the views the node hands a composing backend."""

    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, dict[str, MediaView]] = {}
        self.listener: Any = None
        self.moved: list[tuple[str, str]] = []

    def set_views(self, room_id: str, views: Any) -> None:
        self.views[room_id] = dict(views)

    def set_voice_listener(self, listener: Any) -> None:
        self.listener = listener

    def participant_moved(self, participant_uuid: str, room_id: str) -> None:
        self.moved.append((participant_uuid, room_id))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def node_with(names: str, clock: Clock) -> tuple[Node, ViewsBackend, list[Participant]]:
    backend = ViewsBackend()
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])
    node = Node(config, backend, Timers(), now=clock)
    people = []
    for name in names:
        result = node.request_token("meet", RequestTokenBody(display_name=name), None, "http://x")
        p = node.participants[result.participant_uuid]
        p.calls["c-" + name] = Call("c-" + name, p.uuid, "video", None, "v=0")
        people.append(p)
    node.refresh_media_views(node.room_of(people[0]))
    return node, backend, people


def sent(node: Node, participant: Participant, event: str) -> list[Any]:
    key = (participant.uuid, event)
    return [e.data for e in node.bus.log if (e.participant_uuid, e.event) == key]


async def test_node_views_match_layout_events_and_follow_voice() -> None:
    clock = Clock()
    node, backend, (a, b, c, d, e) = node_with("abcde", clock)
    assert backend.listener is node.stage_views
    room = node.room_of(a)
    views = backend.views[room.id]
    assert views[a.uuid] == MediaView("1:7", (b.uuid, c.uuid, d.uuid, e.uuid))
    for p in (a, b, c, d, e):
        last = sent(node, p, "layout")[-1]
        assert last["participants"] == list(views[p.uuid].participants)
        assert last["view"] == "1:7"
    # the old name of the grid is accepted; events use "4:0" as view and "2x2" as requested
    ops_conference.transform_layout(
        node, node.conference_of(a), room, TransformLayoutBody(transforms=Transforms(layout="4:0"))
    )
    assert sent(node, a, "layout")[-1] == {
        "view": "4:0",
        "participants": [b.uuid, c.uuid, d.uuid, e.uuid],
        "requested_layout": "2x2",
        "overlay_text_enabled": False,
    }
    await asyncio.sleep(0)  # the backend hears of it in a task
    assert backend.layouts[room.id] == "2x2"
    ops_conference.transform_layout(
        node, node.conference_of(a), room, TransformLayoutBody(transforms=Transforms(layout="1:0"))
    )
    assert backend.views[room.id][a.uuid] == MediaView("1:0", (b.uuid,))
    assert sent(node, a, "layout")[-1]["participants"] == [b.uuid]
    stages = len(sent(node, a, "stage"))
    # d speaks: everyone's main speaker (but d's own) becomes d, with vad 100 on the stage
    clock.t += 0.5
    node.voice_activity(room.id, d.uuid, True)
    assert backend.views[room.id][a.uuid] == MediaView("1:0", (d.uuid,))
    assert backend.views[room.id][d.uuid] == MediaView("1:0", (a.uuid,))
    stage = sent(node, a, "stage")[-1]
    assert stage[0] == {"participant_uuid": d.uuid, "stage_index": 0, "vad": 100}
    assert len(sent(node, a, "stage")) == stages + 1
    # within the rate limit: nothing is published yet, a timer will
    clock.t += 0.1
    node.voice_activity(room.id, e.uuid, True)
    node.voice_activity(room.id, d.uuid, False)
    assert len(sent(node, a, "stage")) == stages + 1
    assert backend.views[room.id][a.uuid] == MediaView("1:0", (d.uuid,))
    clock.t += 0.5
    node.stage_views.publish(room.conference_id, room.id)  # what the timer runs
    assert backend.views[room.id][a.uuid] == MediaView("1:0", (e.uuid,))
    assert sent(node, a, "layout")[-1]["participants"] == [e.uuid]
    # an API-only participant is shown nothing (spec) and hands the backend no view
    api = node.participants[
        node.request_token("meet", RequestTokenBody(display_name="api"), None, "x").participant_uuid
    ]
    assert sent(node, api, "layout")[-1]["participants"] == []
    assert api.uuid not in backend.views[room.id]
    # voice from a participant that left is ignored
    node.remove(e, reason=None)
    node.voice_activity(room.id, e.uuid, True)
    assert e.uuid not in [s["participant_uuid"] for s in sent(node, a, "stage")[-1]]
    await node.timers.aclose()
