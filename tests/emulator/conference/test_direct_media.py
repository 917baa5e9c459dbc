"""Direct media over real HTTP: the node brokers offers, answers and candidates between two
media participants (direct-media-flow.md) and never calls its media backend for them."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from direct_kit import MediaPeer, Peer, cand, connect, connect_media, sdp

from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig, NullMediaBackend
from pexbot.emulator.conference.direct_media import TOO_MANY
from pexbot.emulator.media.backend import CallContext

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


class SpyBackend(NullMediaBackend):
    """Records every media call the node makes: a direct-media conference must make none."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    async def open_call(self, call: CallContext, offer_sdp: str) -> str:
        self.log.append("open_call")
        return await super().open_call(call, offer_sdp)

    async def ack(self, call_uuid: str) -> None:
        self.log.append("ack")

    async def add_remote_candidate(self, call_uuid: str, candidate: str, mid: str | None) -> None:
        self.log.append("add_remote_candidate")

    async def update_call(self, call_uuid: str, offer_sdp: str) -> str:
        self.log.append("update_call")
        return await super().update_call(call_uuid, offer_sdp)

    async def close_call(self, call_uuid: str) -> None:
        self.log.append("close_call")


CONFIG = EmulatorConfig(
    conferences=[
        ConferenceConfig(aliases=["dm"], direct_media=True, stats_interval_ms=250),
        ConferenceConfig(aliases=["pinned"], direct_media=True, host_pin="1234", guest_pin="55"),
    ],
    direct_media_answer_timeout=1.0,
)


@pytest.fixture
async def spy() -> SpyBackend:
    return SpyBackend()


@pytest.fixture
async def emu(spy: SpyBackend) -> AsyncIterator[Emulator]:
    async with Emulator(CONFIG, media=spy) as emu:
        yield emu


@pytest.fixture
async def peers(http: aiohttp.ClientSession, emu: Emulator) -> AsyncIterator[Any]:
    made: list[Peer] = []

    async def make(name: str, alias: str = "dm", pin: str | None = None) -> Peer:
        peer = Peer(http, emu, alias)
        made.append(peer)
        await peer.join(name, pin=pin, direct_media=True)
        peer.ev = await peer.events()
        return peer

    yield make
    for peer in made:
        await peer.close()


async def test_request_token_advertises_direct_media(peers: Any) -> None:
    a = await peers("a")
    assert a.result["direct_media"] is True and a.result["pex_datachannel_id"] == 1
    assert a.result["client_stats_update_interval"] == 250  # milliseconds (setTimeout)
    assert a.result["use_relay_candidates_only"] is False
    status, data = await a.post("refresh_token")
    assert status == 200 and data["result"]["client_stats_update_interval"] == 250


async def test_offer_answer_candidates_and_splash(peers: Any, emu: Emulator, spy: Any) -> None:
    a, b = await peers("a"), await peers("b")
    status, data = await a.calls(sdp("a0"))
    assert status == 200 and data["result"] == {
        "call_uuid": a.call_uuid,
        "sdp": "",
        "offer_ignored": True,
    }
    assert await a.ev.next("splash_screen") == {"screen_key": "direct_media_welcome"}
    # The official client still posts its discarded peer connection's candidates: dropped.
    assert await a.call("new_candidate", cand(1, "a0")) is None
    pending = asyncio.ensure_future(b.calls(sdp("b1", "9 1 udp 1 10.0.0.9 9 typ host")))
    assert (await a.ev.next("new_offer"))["sdp"] == sdp("b1", "9 1 udp 1 10.0.0.9 9 typ host")
    await asyncio.sleep(0.3)
    assert not pending.done()  # held until a answers
    await a.call("new_candidate", cand(2, "a1"))  # of the answer a is about to ack: held back
    await a.call("new_candidate", cand(3, "a0"))  # still the old one: dropped
    assert await a.call("ack", {"sdp": sdp("a1")}) is True
    status, data = await pending
    assert status == 200 and data["result"] == {"call_uuid": b.call_uuid, "sdp": sdp("a1")}
    assert b.call_uuid != a.call_uuid
    assert await b.ev.next("new_candidate") == {**cand(2, "a1"), "pwd": "pwd-of-a1"}
    assert await a.ev.next("splash_screen") is None and await b.ev.next("splash_screen") is None
    assert await b.call("ack", {}) is True
    await b.call("new_candidate", cand(4))  # no ufrag (aiortc): b's current one is filled in
    assert await a.ev.next("new_candidate") == {**cand(4, "b1"), "pwd": "pwd-of-b1"}
    await a.call("new_candidate", {"candidate": "", "mid": "0"})  # end-of-candidates
    end = await b.ev.next("new_candidate")
    assert end == {"candidate": "", "mid": "0", "ufrag": "a1", "pwd": "pwd-of-a1"}
    assert [e for e, _ in await b.ev.drain()].count("new_candidate") == 0  # 1 and 3 never came
    assert emu.node.direct_media.candidates_dropped == 2

    # Renegotiation (an ICE restart): update → update_sdp → ack {sdp} → the update's answer.
    pending = asyncio.ensure_future(b.call("update", {"sdp": sdp("b2")}))
    assert (await a.ev.next("update_sdp"))["sdp"] == sdp("b2")
    await a.call("ack", {"sdp": sdp("a2")})
    assert await pending == {"call_uuid": b.call_uuid, "sdp": sdp("a2")}
    await b.call("new_candidate", cand(5, "b1"))  # superseded by b2: dropped
    await b.call("new_candidate", cand(6, "b2"))
    assert (await a.ev.next("new_candidate"))["candidate"] == cand(6)["candidate"]
    # Glare: the far end ignores the offer; the update returns "" (ignored by clients).
    pending = asyncio.ensure_future(a.call("update", {"sdp": sdp("a3")}))
    assert (await b.ev.next("update_sdp"))["sdp"] == sdp("a3")
    await b.call("ack", {"sdp": "offer_ignored", "offer_ignored": True})
    assert await pending == ""
    assert spy.log == [] and emu.node.media_opens["dm"] == 0  # the media backend never knew


async def test_third_media_participant_is_refused(peers: Any, emu: Emulator) -> None:
    a, b, c = await peers("a"), await peers("b"), await peers("c")
    await connect(a, b)
    status, data = await c.calls(sdp("c1"))
    assert status == 403 and data == {"status": "failed", "result": TOO_MANY}
    assert emu.node.participants[c.uuid].calls == {}
    # A presentation-only call is refused too (presentation rides in the main call).
    status, data = await c.calls(sdp("c1"), present="send")
    assert status == 400 and "presentation" in data["result"]


async def test_leave_then_new_joiner_without_rejoining(peers: Any, emu: Emulator) -> None:
    a, b = await peers("a"), await peers("b")
    await connect(a, b)
    first_call = a.call_uuid
    await b.post("release_token", {"reason": "User initiated disconnect"})
    assert await a.ev.next("peer_disconnect") is None
    assert await a.ev.next("splash_screen") == {"screen_key": "direct_media_welcome"}
    # The remaining side keeps its call: the next joiner's offer reaches it there.
    c = await peers("c")
    pending = asyncio.ensure_future(c.calls(sdp("c1")))
    assert (await a.ev.next("new_offer"))["sdp"] == sdp("c1")
    await a.call("ack", {"sdp": sdp("a5")}, call_uuid=first_call)
    status, data = await pending
    assert status == 200 and data["result"]["sdp"] == sdp("a5")
    # Token expiry counts as leaving.
    emu.faults.expire_tokens(c.uuid)
    assert await a.ev.next("peer_disconnect") is None
    # The official restartCall: disconnect the call, post a fresh /calls, wait again.
    await a.call("disconnect")
    status, data = await a.calls(sdp("a6"))
    assert status == 200 and data["result"]["offer_ignored"] and a.call_uuid != first_call
    d = await peers("d")
    pending = asyncio.ensure_future(d.calls(sdp("d1")))
    assert (await a.ev.next("new_offer"))["sdp"] == sdp("d1")
    await a.call("ack", {"sdp": sdp("a7")})
    assert (await pending)[1]["result"]["sdp"] == sdp("a7")
    assert len(emu.node.direct_media.legs(emu.node.participants[a.uuid].conference_id)) == 2


async def test_answerer_leaving_returns_the_held_calls_as_waiting(peers: Any) -> None:
    a, b = await peers("a"), await peers("b")
    await a.calls(sdp("a0"))
    pending = asyncio.ensure_future(b.calls(sdp("b1")))
    await a.ev.next("new_offer")
    await a.call("disconnect")
    status, data = await pending
    assert status == 200 and data["result"]["sdp"] == "" and data["result"]["offer_ignored"]
    events = [e for e, _ in await b.ev.drain()]
    assert "peer_disconnect" not in events and "splash_screen" in events
    # b now waits; a's fresh /calls is offered to b.
    pending = asyncio.ensure_future(a.calls(sdp("a1")))
    assert (await b.ev.next("new_offer"))["sdp"] == sdp("a1")
    await b.call("ack", {"sdp": sdp("b2")})
    assert (await pending)[1]["result"]["sdp"] == sdp("b2")


async def test_no_answer_in_time(peers: Any) -> None:
    a, b = await peers("a"), await peers("b")
    await a.calls(sdp("a0"))
    status, data = await b.calls(sdp("b1"))  # a never acks: after the 1 s timeout
    assert status == 200 and data["result"]["offer_ignored"] and data["result"]["sdp"] == ""
    assert await a.ev.next("peer_disconnect") is None
    pending = asyncio.ensure_future(a.calls(sdp("a1")))  # a restarts: offered to waiting b
    assert (await b.ev.next("new_offer"))["sdp"] == sdp("a1")
    await b.call("ack", {"sdp": sdp("b2")})
    assert (await pending)[1]["result"]["sdp"] == sdp("b2")


async def test_guest_waits_for_host_and_audio_only_far_end(peers: Any) -> None:
    guest = await peers("g", alias="pinned", pin="55")
    await guest.calls(sdp("g0"))
    assert await guest.ev.next("splash_screen") == {"screen_key": "direct_media_waiting_for_host"}
    host = await peers("h", alias="pinned", pin="1234")
    body = {"call_type": "WEBRTC", "sdp": sdp("h1"), "media_type": "audio"}
    pending = asyncio.ensure_future(host.post(f"participants/{host.uuid}/calls", body))
    await guest.ev.next("new_offer")
    await guest.call("ack", {"sdp": sdp("g1")})
    assert (await pending)[0] == 200
    assert await guest.ev.next("splash_screen") == {
        "screen_key": "direct_media_other_participants_audio_only"
    }
    assert await host.ev.next("splash_screen") is None


async def test_statistics_are_kept(peers: Any, emu: Emulator, http: Any) -> None:
    a, b = await peers("a"), await peers("b")
    await connect(a, b)
    video = {"rx_bitrate": 812.5, "rx_fps": 14.0, "rx_packets_received": 900, "rx_codec": "VP8"}
    assert await a.call("statistics", {"audio": {"rx_bitrate": 64.0}, "video": video}) is None
    assert await a.call("statistics", {"audio": {"rx_bitrate": 63.0}}) is None
    samples = emu.node.statistics[a.uuid]
    assert [s.body.audio.rx_bitrate for s in samples if s.body.audio] == [64.0, 63.0]
    assert samples[0].t <= samples[1].t and samples[0].body.video is not None
    assert samples[0].body.video.rx_packets_received == 900
    assert len(emu.node.statistics.for_call(a.call_uuid)) == 2
    status, _ = await a.post(
        f"participants/{a.uuid}/calls/{a.call_uuid}/statistics", {"audio": {"rx_bitrate": "x"}}
    )
    assert status == 400
    async with http.get(f"{emu.base_url}/emulator/statistics") as resp:
        stored = (await resp.json())["result"][a.uuid]
    assert [s["body"]["audio"]["rx_bitrate"] for s in stored] == [64.0, 63.0]
    assert stored[0]["call_uuid"] == a.call_uuid


async def test_direct_media_exchanges_match_pexip_schemas(peers: Any, emu: Emulator) -> None:
    schema_check = pytest.importorskip("schema_check")
    a, b, c = await peers("a"), await peers("b"), await peers("c")
    await connect(a, b)
    await a.call("new_candidate", cand(1, "a1"))
    pending = asyncio.ensure_future(b.call("update", {"sdp": sdp("b2")}))
    await a.ev.next("update_sdp")
    await a.call("ack", {"sdp": sdp("a2")})
    await pending
    await a.call("statistics", {"audio": {"rx_bitrate": 64.0}})
    await c.calls(sdp("c1"))  # 403
    await b.call("disconnect")
    book = schema_check.SchemaBook()
    checked, problems, functions = 0, [], set()
    for x in emu.traffic:
        endpoint = book.match(x.method, x.path, x.request_json)
        if endpoint is None:
            continue  # the event stream
        functions.add((endpoint.function, x.status))
        assert x.status in endpoint.responses, (endpoint.function, x.status)
        if x.request_json is not None and endpoint.body_validator:
            problems += book.errors(endpoint.body_validator, x.request_json)
        name, content_type = endpoint.responses[x.status]
        data = x.response_json if content_type == "application/json" else x.request_text
        problems += [f"{x.path} {x.status}: {e}" for e in book.errors(name, data)]
        checked += 1
    assert not problems and checked == 13
    assert ("callsWebrtcParticipant", 403) in functions
    assert {("ack", 200), ("newCandidate", 200), ("update", 200), ("statistics", 200)} <= functions


async def test_two_aiortc_peers_media_flows_both_ways_without_the_node(
    peers: Any, emu: Emulator, spy: SpyBackend
) -> None:
    a = MediaPeer(await peers("a"), first=1_000_000)
    b = MediaPeer(await peers("b"), first=2_000_000)
    try:
        await connect_media(a, b)
        assert a.offers == [b.pc.localDescription.sdp]  # verbatim: no relay on this conference
        got_a = await a.frames_from(2_000_000, 10)
        got_b = await b.frames_from(1_000_000, 10)
        assert got_a == sorted(got_a) and got_b == sorted(got_b)  # real, ordered frames
        assert max(a.numbers) < 3_000_000 and max(b.numbers) < 2_000_000  # the far end's own
    finally:
        await a.close()
        await b.close()
    # No RTP through the emulator: its media backend was never asked for anything.
    assert spy.log == [] and emu.node.media_opens["dm"] == 0
    assert emu.node.direct_media.relay.ports(emu.node.participants[a.peer.uuid].conference_id) == []
