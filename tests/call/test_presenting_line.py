"""The presenting line on its own: a recording signalling for the floor and a fake negotiator
that records the directions asked of it (in one journal, to check the order)."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc.mediastreams import VideoStreamTrack
from partkit import CALL_UUID, RecordingSignalling

from pexbot.call.options import CallOptions
from pexbot.call.presenting import PresentingLine
from pexbot.errors import CallError, FloorDenied, NegotiationError, TransportError
from pexbot.rtc.sdp import Direction, MediaRole, offer_roles
from pexbot.rtc.tracks import OutgoingVideoTrack


class FakeNegotiation:
    """Records into the signalling's journal; fails the directions in ``refuse``."""

    def __init__(self, journal: list[tuple[str, Any]]) -> None:
        self.journal = journal
        self.call_uuid: str | None = CALL_UUID
        self.refuse: set[Direction] = set()
        self.settled: Direction | None = None

    async def set_slides_direction(self, direction: Direction) -> None:
        self.journal.append(("offer", direction))
        if direction in self.refuse:
            raise NegotiationError(f"{direction} refused")

    def expect_slides(self, direction: Direction) -> None:
        self.journal.append(("expect", direction))

    def settled_slides_direction(self) -> Direction | None:
        return self.settled


class Rig:
    def __init__(self, *, direct: bool = False, media_type: str = "video") -> None:
        options = CallOptions(direct_media=direct, media_type=media_type)  # type: ignore[arg-type]
        roles: list[MediaRole] = offer_roles(options.media_type, options.present)
        self.sig = RecordingSignalling()
        self.negotiation = FakeNegotiation(self.sig.sent)
        self.slides = OutgoingVideoTrack(None, fps=5.0)
        self.line = PresentingLine(self.sig, options, roles, self.slides, self.negotiation)

    @property
    def journal(self) -> list[tuple[str, Any]]:
        return self.sig.sent


async def test_presenting_takes_the_floor_then_sends_on_the_line() -> None:
    rig = Rig()
    track = VideoStreamTrack()
    await rig.line.start_presenting(track)
    assert rig.journal == [("take_floor", None), ("offer", "sendonly")]
    assert rig.line.presenting and rig.slides.source is track


async def test_a_floor_refused_offers_nothing() -> None:
    rig = Rig()
    rig.sig.floor_error = FloorDenied("participant/take_floor", 403, "Guests cannot present")
    with pytest.raises(FloorDenied):
        await rig.line.start_presenting(VideoStreamTrack())
    assert rig.journal == [("take_floor", None)]
    assert not rig.line.presenting and rig.slides.source is None


async def test_a_failed_renegotiation_gives_the_floor_back_and_the_line_inactive() -> None:
    rig = Rig()
    rig.negotiation.refuse = {"sendonly"}
    with pytest.raises(NegotiationError, match="sendonly refused"):
        await rig.line.start_presenting(VideoStreamTrack())
    assert rig.journal == [
        ("take_floor", None),
        ("offer", "sendonly"),
        ("release_floor", None),
        ("offer", "inactive"),
    ]
    assert not rig.line.presenting and rig.slides.source is None


async def test_stopping_releases_the_floor_then_the_line() -> None:
    rig = Rig()
    await rig.line.start_presenting(VideoStreamTrack())
    await rig.line.stop_presenting()
    assert rig.journal[2:] == [("release_floor", None), ("offer", "inactive")]
    assert not rig.line.presenting and rig.slides.source is None


async def test_yielding_stops_at_once_and_receives_with_one_offer() -> None:
    rig = Rig()
    await rig.line.start_presenting(VideoStreamTrack())
    rig.sig.release_error = TransportError("the node moved the floor already")
    await rig.line.yield_presentation()  # the release failing does not stop it
    assert rig.journal[2:] == [("release_floor", None), ("offer", "recvonly")]
    assert not rig.line.presenting and rig.slides.source is None


async def test_yielding_in_direct_media_leaves_the_offer_to_the_new_presenter() -> None:
    rig = Rig(direct=True)
    await rig.line.start_presenting(VideoStreamTrack())
    await rig.line.yield_presentation()
    assert rig.journal[2:] == [("release_floor", None), ("expect", "recvonly")]


async def test_receiving_while_presenting_stops_presenting_first() -> None:
    rig = Rig()
    await rig.line.start_presenting(VideoStreamTrack())
    await rig.line.receive_presentation()
    assert rig.journal[2:] == [
        ("release_floor", None),
        ("offer", "inactive"),
        ("offer", "recvonly"),
    ]


async def test_stopping_receiving_leaves_a_line_we_present_on_alone() -> None:
    rig = Rig()
    await rig.line.stop_receiving_presentation()
    assert rig.journal == [("offer", "inactive")]
    await rig.line.start_presenting(VideoStreamTrack())
    mark = len(rig.journal)
    await rig.line.stop_receiving_presentation()
    assert rig.journal[mark:] == []


@pytest.mark.parametrize("media_type", ["audio", "video-only"])
async def test_a_call_without_a_slides_line_refuses_everything(media_type: str) -> None:
    rig = Rig(media_type=media_type)
    with pytest.raises(CallError, match="no presentation line"):
        await rig.line.start_presenting(VideoStreamTrack())
    with pytest.raises(CallError, match="no presentation line"):
        await rig.line.receive_presentation()
    assert rig.journal == []


@pytest.mark.parametrize(
    ("presenting", "settled", "unsettled"),
    [
        (True, "recvonly", True),  # we present, the line does not send
        (False, "sendonly", True),  # it sends while we do not
        (True, "sendonly", False),
        (False, "recvonly", False),
        (False, "inactive", False),
        (True, None, False),  # an exchange in flight: nothing to tell yet
    ],
)
async def test_the_line_is_unsettled_when_it_contradicts_whether_we_present(
    presenting: bool, settled: Direction | None, unsettled: bool
) -> None:
    rig = Rig(direct=True)
    rig.line.presenting = presenting
    rig.negotiation.settled = settled
    assert rig.line.slides_unsettled() is unsettled
    if unsettled:
        await rig.line.settle_slides()
        assert rig.journal == [("offer", "sendonly" if presenting else "recvonly")]


async def test_outside_direct_media_the_line_is_never_unsettled() -> None:
    rig = Rig()
    rig.line.presenting = True
    rig.negotiation.settled = "recvonly"
    assert rig.line.slides_unsettled() is False
