"""Kit for the direct-media tests: a raw-HTTP participant with call helpers, hand-written SDPs,
and a real aiortc peer connection driven through the emulator's brokering (numbered test
pattern out, numbers read back from what arrives)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame
from emu_helpers import Client, EventReader

from media.pattern import find_codes
from media.synthetic import PatternVideoSource

SIZE = (320, 180)
FPS = 15.0


def sdp(ufrag: str, *candidates: str) -> str:
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        f"a=ice-ufrag:{ufrag}",
        f"a=ice-pwd:pwd-of-{ufrag}",
        *[f"a=candidate:{c}" for c in candidates],
    ]
    return "\r\n".join(lines) + "\r\n"


def cand(n: int, ufrag: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"candidate": f"candidate:{n} 1 udp 2113937151 10.0.0.{n} 5000 typ host"}
    body["mid"] = "0"
    if ufrag is not None:
        body["ufrag"] = ufrag
    return body


class Peer(Client):
    """A participant speaking raw HTTP, with its current call and one open event stream."""

    call_uuid = ""
    ev: EventReader

    async def calls(self, offer: str, **extra: Any) -> tuple[int, Any]:
        body = {"call_type": "WEBRTC", "sdp": offer, "media_type": "video", **extra}
        status, data = await self.post(f"participants/{self.uuid}/calls", body)
        if status == 200:
            self.call_uuid = data["result"]["call_uuid"]
        return status, data

    async def call(self, op: str, body: Any = None, call_uuid: str | None = None) -> Any:
        path = f"participants/{self.uuid}/calls/{call_uuid or self.call_uuid}/{op}"
        status, data = await self.post(path, body if body is not None else {})
        assert status == 200, (op, status, data)
        return data["result"]


async def connect(a: Peer, b: Peer, *, a_ufrag: str = "a1", b_ufrag: str = "b1") -> None:
    """a waits (its offer ignored), b offers, a answers: the sequence of direct-media-flow.md."""
    status, data = await a.calls(sdp("a0"))
    assert status == 200 and data["result"]["sdp"] == "" and data["result"]["offer_ignored"]
    pending = asyncio.ensure_future(b.calls(sdp(b_ufrag)))
    assert (await a.ev.next("new_offer"))["sdp"] == sdp(b_ufrag)
    assert await a.call("ack", {"sdp": sdp(a_ufrag)}) is True
    status, data = await pending
    assert status == 200 and data["result"] == {"call_uuid": b.call_uuid, "sdp": sdp(a_ufrag)}
    assert await b.call("ack", {}) is True


class Numbered(PatternVideoSource):
    def __init__(self, first: int) -> None:
        super().__init__(*SIZE, fps=FPS)
        self.first = first

    async def render(self, index: int, t: float) -> VideoFrame:
        return await super().render(index + self.first, t)


class MediaPeer:
    """One aiortc peer connection sending frames numbered from ``first`` and reading the
    numbers of what it receives. Signalling goes through the emulator as direct-media-flow.md
    says; aiortc writes its candidates into the SDP, so there is nothing to trickle."""

    def __init__(self, peer: Peer, first: int) -> None:
        self.peer = peer
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(Numbered(first))
        self.numbers: list[int] = []
        self.offers: list[str] = []  # SDPs the emulator delivered to this side
        self._readers: list[asyncio.Task[None]] = []
        self.pc.on("track", self._track)

    def _track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, VideoFrame)
                image = await asyncio.to_thread(frame.to_ndarray, format="gray")
                self.numbers += [code.number for code in find_codes(image)]

    async def wait(self) -> None:
        """The first side: its /calls is answered empty (the offer is discarded anyway)."""
        status, data = await self.peer.calls("v=0\r\n")
        assert status == 200 and data["result"]["sdp"] == "", data

    async def answer(self) -> None:
        """The new_offer is answered through ack {sdp}."""
        offer = (await self.peer.ev.next("new_offer", within=20))["sdp"]
        self.offers.append(offer)
        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        assert await self.peer.call("ack", {"sdp": self.pc.localDescription.sdp}) is True

    async def offer(self) -> None:
        """The second side: its /calls is held until the first side's ack carries the answer."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        status, data = await self.peer.calls(self.pc.localDescription.sdp)
        assert status == 200 and data["result"]["sdp"], data
        self.offers.append(data["result"]["sdp"])
        await self.pc.setRemoteDescription(RTCSessionDescription(data["result"]["sdp"], "answer"))
        assert await self.peer.call("ack", {}) is True

    async def frames_from(self, first: int, count: int, within: float = 20.0) -> list[int]:
        """Wait until ``count`` frames numbered from ``first`` on have arrived."""
        async with asyncio.timeout(within):
            while len(got := [n for n in self.numbers if n >= first]) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return got

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self.pc.close()


async def connect_media(a: MediaPeer, b: MediaPeer) -> None:
    await a.wait()
    answering = asyncio.ensure_future(a.answer())
    await b.offer()
    await answering
