"""Fakes for testing a media call's parts one at a time: a signalling that records what it is
asked and answers (or holds) on cue, and peer connections that only keep the signalling state
and the directions a real ``Peer`` would have negotiated."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pexbot import wire
from pexbot.rtc.sdp import Direction, MediaRole, directions

CALL_UUID = "call-1"


def sdp(ufrag: str, *, slides: Direction = "inactive", port: int = 9) -> str:
    """A three-line description with ICE credentials ``ufrag`` and the slides line ``slides``."""
    lines = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    for mid, (kind, direction) in enumerate(
        [("audio", "sendrecv"), ("video", "sendrecv"), ("video", slides)]
    ):
        lines += [
            f"m={kind} {port} UDP/TLS/RTP/SAVPF 96",
            "c=IN IP4 0.0.0.0",
            f"a=ice-ufrag:{ufrag}",
            "a=ice-pwd:secretsecretsecret",
            f"a=mid:{mid}",
            f"a={direction}",
        ]
    return "\r\n".join(lines) + "\r\n"


def direction_of(text: str, index: int) -> Direction:
    direction = directions(text)[index]
    assert direction is not None
    return direction


_MIRROR: dict[str, Direction] = {
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "sendrecv": "sendrecv",
    "inactive": "inactive",
}


@dataclass
class FakePc:
    signalingState: str = "stable"  # aiortc's name


class FakePeer:
    """What the negotiator uses of :class:`pexbot.rtc.peer.Peer`, over no network."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.pc = FakePc()
        self.closed = False
        self.remote_applied = False
        self.remote_sdp: str | None = None
        self.slides: Direction | None = None  # as negotiated
        self.offered_slides: Direction | None = None  # in our pending offer
        self.answered: list[tuple[str, bool]] = []  # far-end offers answered (sdp, presenting)
        self._renegotiating = False

    def __repr__(self) -> str:
        return f"FakePeer(#{self.generation})"

    async def create_offer(self, slides: Direction | None = None) -> str:
        self.offered_slides = slides or "inactive"
        return sdp(f"ours{self.generation}", slides=self.offered_slides)

    async def set_local_offer(self, text: str) -> None:
        self._renegotiating = self.remote_applied
        self.pc.signalingState = "have-local-offer"

    def local_description(self) -> str:
        return sdp(f"ours{self.generation}", slides=self.offered_slides or "inactive")

    def local_candidates(self, *, relay_only: bool) -> list[wire.NewCandidateBody]:
        return [wire.NewCandidateBody(candidate=f"candidate:{self.generation}", mid="0")]

    async def apply_answer(self, answer: str, offer: str) -> None:
        self.remote_sdp, self.remote_applied = answer, True
        self.pc.signalingState = "stable"
        self.slides = _MIRROR[direction_of(answer, 2)]

    async def answer_offer(self, offer: str, *, presenting: bool) -> str:
        if self.pc.signalingState != "stable":
            raise AssertionError("a real peer cannot answer over its own offer")
        self.answered.append((offer, presenting))
        self.remote_sdp, self.remote_applied = offer, True
        theirs = direction_of(offer, 2)
        sends = theirs in ("sendonly", "sendrecv")
        self.slides = "sendonly" if presenting and not sends else _MIRROR[theirs]
        return sdp(f"ours{self.generation}", slides=self.slides)

    def rollback(self) -> bool:
        if not self._renegotiating or self.closed:
            return False
        self._renegotiating = False
        self.pc.signalingState = "stable"
        return True

    def remote_ice_ufrag(self) -> str | None:
        if self.remote_sdp is None:
            return None
        return self.remote_sdp.split("a=ice-ufrag:", 1)[1].split("\r\n", 1)[0]

    def negotiated_direction(self, role: MediaRole) -> Direction | None:
        return self.slides if role == "slides" else None

    async def close(self) -> None:
        self.closed = True


class FakePeers:
    """The negotiator's :class:`~pexbot.call.negotiation.Connections`, making FakePeers."""

    def __init__(self) -> None:
        self.made: list[FakePeer] = []

    @property
    def current(self) -> FakePeer | None:
        return self.made[-1] if self.made else None

    def new(self) -> FakePeer:
        self.made.append(FakePeer(len(self.made) + 1))
        return self.made[-1]

    async def replace(self) -> FakePeer:
        await self.close()
        return self.new()

    async def close(self) -> None:
        if self.current is not None:
            await self.current.close()


@dataclass
class RecordingSignalling:
    """Records every request. ``/calls`` is answered with ``calls_answer``; ``update`` with
    ``update_answer``, or held until the test answers it (:meth:`answer_update`) when None."""

    calls_answer: str = field(default_factory=lambda: sdp("node"))
    update_answer: str | None = field(default_factory=lambda: sdp("node"))
    calls_error: Exception | None = None
    floor_error: Exception | None = None
    release_error: Exception | None = None
    sent: list[tuple[str, Any]] = field(default_factory=list)
    held: list[asyncio.Future[str]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def bodies(self, name: str) -> list[Any]:
        return [body for n, body in self.sent if n == name]

    async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult:
        self.sent.append(("calls", body))
        if self.calls_error is not None:
            raise self.calls_error
        return wire.CallsResult(call_uuid=CALL_UUID, sdp=self.calls_answer)

    async def new_candidate(self, call_uuid: str, body: wire.NewCandidateBody) -> None:
        self.sent.append(("new_candidate", body))

    async def ack(self, call_uuid: str, body: wire.AckBody) -> None:
        self.sent.append(("ack", body))

    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str:
        self.sent.append(("update", body))
        if self.update_answer is not None:
            return self.update_answer
        held = asyncio.get_running_loop().create_future()
        self.held.append(held)
        return await held

    def waiting_updates(self) -> int:
        return sum(not held.done() for held in self.held)  # a dropped one is cancelled

    def answer_update(self, answer: str) -> None:
        next(held for held in self.held if not held.done()).set_result(answer)

    async def disconnect_call(self, call_uuid: str) -> None:
        self.sent.append(("disconnect", call_uuid))

    async def call_dtmf(self, call_uuid: str, digits: str) -> None:
        self.sent.append(("dtmf", (call_uuid, digits)))

    async def take_floor(self) -> None:
        self.sent.append(("take_floor", None))
        if self.floor_error is not None:
            raise self.floor_error

    async def release_floor(self) -> None:
        self.sent.append(("release_floor", None))
        if self.release_error is not None:
            raise self.release_error
