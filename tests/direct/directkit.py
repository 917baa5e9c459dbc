"""Kit for direct-media tests: an in-process node that brokers calls between MediaCalls the way
direct-media-flow.md describes, a switch that cuts every aioice socket in the process (a dead
path between two in-process bots), numbered test patterns and a sink that reads them back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aioice.ice import StunProtocol
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media import PatternVideoSource, Sink
from media.analyser import luma_plane
from media.pattern import Code, find_codes
from media.sink import Kind
from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.call.slot import CallSlot
from pexbot.events import Event, NewCandidate, NewOffer, PeerDisconnected, UpdateSdp

# The integration kit's waiting and ordering helpers are shared (and re-exported), not copied.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from intkit import strictly_increasing as strictly_increasing
from intkit import wait_until as wait_until

SIZE = (320, 180)
FPS = 15.0
#: each sender's frame numbers start here, so a receiver can tell whose frames it got
ALICE_FIRST = 0
BOB_FIRST = 1_000_000
CAROL_FIRST = 2_000_000
RANGE = 500_000


def from_range(first: int) -> Callable[[int], bool]:
    return lambda n: first <= n < first + RANGE


class NumberedPattern(PatternVideoSource):
    """The test pattern (320x180, 15 fps) with frame numbers counted from ``first``."""

    def __init__(self, first: int) -> None:
        super().__init__(*SIZE, fps=FPS)
        self.first = first

    async def render(self, index: int, t: float) -> VideoFrame:
        return await super().render(index + self.first, t)


@dataclass(frozen=True)
class Reading:
    arrived: float  # time.monotonic() when the picture arrived
    number: int


class Numbers(Sink):
    """Reads the pattern code of every video frame (one worker thread, at most 12 pictures
    behind: later ones are skipped), keeping the numbers in arrival order and the pts."""

    def __init__(self) -> None:
        super().__init__()
        self.pts: dict[str, list[int]] = defaultdict(list)
        self.tracks: list[tuple[str, str]] = []  # (role, kind) of every track handed over
        self._jobs: list[tuple[float, concurrent.futures.Future[list[Code]]]] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="numbers")

    def on_track(self, role: str, track: MediaStreamTrack) -> None:
        """Use as ``on_track``."""
        self.tracks.append((role, track.kind))
        self.add_track(track, role=role)

    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> None:
        if not isinstance(frame, VideoFrame) or role != "main":
            return
        if frame.pts is not None:
            self.pts[role].append(frame.pts)
        if sum(1 for _, job in self._jobs[-12:] if not job.done()) >= 12:
            return
        self._jobs.append((time.monotonic(), self._pool.submit(find_codes, luma_plane(frame))))

    def trail(self) -> list[Reading]:
        """Numbers read so far, in arrival order (pictures still being read left out)."""
        out: list[Reading] = []
        for arrived, job in self._jobs:
            if not job.done():
                break
            out.extend(Reading(arrived, code.number) for code in job.result())
        return out

    def numbers(self) -> list[int]:
        return [r.number for r in self.trail()]

    def count_from(self, first: int) -> int:
        return sum(map(from_range(first), self.numbers()))

    async def finalise(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, wait=True)


# -- an in-process direct-media node -----------------------------------------------------------

Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


class Party:
    """``CallSignalling`` of one participant of a :class:`DirectNode`; records every request
    and delivers events to its call in order (through a real :class:`CallSlot`)."""

    def __init__(self, node: DirectNode, name: str) -> None:
        self.node = node
        self.name = name
        self.call_uuid: str | None = None
        self.waiting = False
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.statistics: list[dict[str, Any]] = []
        self.slot = CallSlot(node.spawn)
        self._pending: asyncio.Future[str] | None = None  # a held /calls or update
        #: while set and not yet released, an update waits here before reaching the far end
        self.hold_updates: asyncio.Event | None = None
        #: TURN servers the /calls answer carries
        self.turn: list[wire.TurnServer] | None = None

    def __repr__(self) -> str:
        return f"Party({self.name}, {self.call_uuid}, waiting={self.waiting})"

    def names(self) -> list[str]:
        return [name for name, _ in self.records]

    def deliver(self, event: Event) -> None:
        self.slot.on_event(event)

    def make_call(self, options: CallOptions, **kwargs: Any) -> MediaCall:
        call = MediaCall(self, options, post_statistics=self.post_statistics, **kwargs)
        self.slot.attach(call)
        return call

    # --- CallSignalling -------------------------------------------------------------------

    async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult:
        self.records.append(("calls", body.body()))
        self.call_uuid = str(uuid.uuid4())
        other = self.node.waiting_party(self)
        if other is None:
            self.waiting = True
            return wire.CallsResult(call_uuid=self.call_uuid, sdp="", offer_ignored=True)
        answer = await self._hold(other, NewOffer(body.sdp))
        return wire.CallsResult(call_uuid=self.call_uuid, sdp=answer, turn=self.turn)

    async def new_candidate(self, call_uuid: str, body: wire.NewCandidateBody) -> None:
        self.records.append(("new_candidate", body.body()))
        other = self.node.peer_of(self)
        if other is not None:
            other.deliver(NewCandidate(body.candidate, body.mid, body.ufrag, body.pwd))

    async def ack(self, call_uuid: str, body: wire.AckBody) -> None:
        self.records.append(("ack", body.body()))
        other = self.node.peer_of(self)
        if body.sdp and other is not None and other._pending is not None:
            if not other._pending.done():
                other._pending.set_result("" if body.offer_ignored else body.sdp)

    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str | wire.UpdateResult:
        self.records.append(("update", body.body()))
        if self.hold_updates is not None:
            await self.hold_updates.wait()
        other = self.node.peer_of(self)
        if other is None:
            return ""
        return await self._hold(other, UpdateSdp(body.sdp))

    async def disconnect_call(self, call_uuid: str) -> None:
        self.records.append(("disconnect", {}))
        if call_uuid != self.call_uuid:
            return
        other = self.node.peer_of(self)
        self.call_uuid, self.waiting = None, False
        if other is not None:
            other.deliver(PeerDisconnected())

    async def call_dtmf(self, call_uuid: str, digits: str) -> None:
        self.records.append(("dtmf", {"digits": digits}))

    async def take_floor(self) -> None:
        self.records.append(("take_floor", {}))

    async def release_floor(self) -> None:
        self.records.append(("release_floor", {}))

    async def post_statistics(self, call_uuid: str, body: wire.StatisticsBody) -> None:
        self.statistics.append(body.body())

    async def _hold(self, other: Party, offer: Event) -> str:
        """Send ``offer`` to ``other`` and wait for its ``ack {sdp}``."""
        self._pending = asyncio.get_running_loop().create_future()
        other.waiting = False
        self.node.pair(self, other)
        other.deliver(offer)
        try:
            async with asyncio.timeout(10):
                return await self._pending
        finally:
            self._pending = None


class DirectNode:
    """Brokers two direct-media participants (direct-media-flow.md, steps 1-7)."""

    def __init__(self, spawn: Spawn) -> None:
        self.spawn = spawn
        self.parties: list[Party] = []
        self._pairs: dict[str, Party] = {}

    def party(self, name: str) -> Party:
        party = Party(self, name)
        self.parties.append(party)
        return party

    def waiting_party(self, asking: Party) -> Party | None:
        return next((p for p in self.parties if p is not asking and p.waiting), None)

    def pair(self, a: Party, b: Party) -> None:
        self._pairs[a.name], self._pairs[b.name] = b, a

    def peer_of(self, party: Party) -> Party | None:
        other = self._pairs.get(party.name)
        if other is None or other.call_uuid is None or party.call_uuid is None:
            return None
        return other

    async def leave(self, party: Party) -> None:
        """``party`` leaves (its call disconnected and closed)."""
        call = party.slot.call
        if call is not None:
            await call.disconnect("left")
        self.parties.remove(party)
        self._pairs.pop(party.name, None)


@contextlib.asynccontextmanager
async def direct_node() -> AsyncIterator[DirectNode]:
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    node = DirectNode(spawn)
    try:
        yield node
    finally:
        for party in list(node.parties):
            await party.slot.close("test over", tell_node=False)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class PathSwitch:
    """Drops every datagram arriving at any aioice socket of this process while blocked."""

    def __init__(self) -> None:
        self.blocked = False
        self.dropped = 0


@contextlib.contextmanager
def path_switch(monkeypatch: pytest.MonkeyPatch) -> Iterator[PathSwitch]:
    switch = PathSwitch()
    real = StunProtocol.datagram_received

    def gated(self: StunProtocol, data: bytes | str, addr: tuple[Any, ...]) -> None:
        if switch.blocked:
            switch.dropped += 1
            return
        real(self, data, addr)

    monkeypatch.setattr(StunProtocol, "datagram_received", gated)
    yield switch
