"""The direct-media path relay: candidate rewriting (pure), real UDP through relay ports, and two
aiortc peers whose path is blocked and restored through ``emu.faults``."""

from __future__ import annotations

import asyncio
import random
import re
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from direct_kit import MediaPeer, Peer, connect, connect_media

from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig
from pexbot.emulator.media.path_relay import (
    PathRelay,
    PathRelayError,
    PathState,
    candidate_address,
    rewrite_candidate,
    rewrite_sdp,
)


def fixed(address: tuple[str, int]) -> tuple[str, int]:
    return ("127.0.0.1", 40000 + address[1] % 1000)


def test_candidates_are_rewritten_or_left_out() -> None:
    host = "candidate:1 1 udp 2130706431 192.0.2.2 5004 typ host"
    assert rewrite_candidate(host, fixed) == "candidate:1 1 udp 2130706431 127.0.0.1 40004 typ host"
    bare = "842163049 1 UDP 1677729535 198.51.100.7 61665 typ srflx raddr 0.0.0.0 rport 0"
    assert rewrite_candidate(bare, fixed) == (
        "842163049 1 UDP 1677729535 127.0.0.1 40665 typ srflx raddr 0.0.0.0 rport 0"
    )
    assert rewrite_candidate("", fixed) == ""  # end-of-candidates
    for escaping in (
        "candidate:2 1 tcp 1518280447 192.0.2.2 9 typ host tcptype active",
        "candidate:3 1 udp 2130706431 fd00::2 5004 typ host",
        "candidate:4 1 udp 2130706431 5c7a.local 5004 typ host",
        "candidate:garbage",
    ):
        assert rewrite_candidate(escaping, fixed) is None, escaping
    where = candidate_address("a=candidate:1 1 UDP 1 192.0.2.2 5004 typ host")
    assert where is not None and (where.transport, where.address, where.port) == (
        "udp",
        "192.0.2.2",
        5004,
    )


def test_sdp_rewrite_touches_only_candidate_lines() -> None:
    sdp = (
        "v=0\r\nm=video 5004 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 192.0.2.2\r\n"
        "a=candidate:1 1 udp 2130706431 192.0.2.2 5004 typ host\r\n"
        "a=candidate:2 1 udp 2130706431 fd00::2 5006 typ host\r\n"
        "a=end-of-candidates\r\n"
    )
    assert rewrite_sdp(sdp, fixed) == (
        "v=0\r\nm=video 5004 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 192.0.2.2\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 40004 typ host\r\n"
        "a=end-of-candidates\r\n"
    )


def test_loss_is_a_share_of_packets() -> None:
    rng = random.Random(7)
    state = PathState(loss_percent=25)
    passed = sum(state.admit(rng) for _ in range(10_000))
    assert 7000 < passed < 8000
    assert not PathState(blocked=True).admit(rng)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        PathRelay().set_path("x", loss_percent=120)


# -- real UDP through a relay port -------------------------------------------------------------


@pytest.fixture
def udp() -> Iterator[Any]:
    made: list[socket.socket] = []

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        made.append(sock)
        return sock

    yield make
    for sock in made:
        sock.close()


async def recv(sock: socket.socket, wait: float = 5.0) -> tuple[bytes, tuple[str, int]]:
    sock.settimeout(wait)
    data, source = await asyncio.to_thread(sock.recvfrom, 2048)
    return data, (source[0], source[1])


async def nothing_arrives(sock: socket.socket) -> bool:
    try:
        await recv(sock, wait=0.5)
    except TimeoutError:
        return True
    return False


async def test_relay_port_is_a_symmetric_nat_with_a_switch(udp: Any) -> None:
    owner, far, other = udp(), udp(), udp()
    relay = PathRelay()
    try:
        line = f"candidate:1 1 udp 1 127.0.0.1 {owner.getsockname()[1]} typ host"
        rewritten = relay.rewrite_candidate("conf", "call-1", line)
        assert rewritten is not None and rewritten != line
        front = ("127.0.0.1", int(rewritten.split()[5]))
        assert relay.rewrite_candidate("conf", "call-1", line) == rewritten  # one port each

        far.sendto(b"check", front)
        data, back = await recv(owner)
        assert data == b"check" and back != front  # the owner sees a back socket
        owner.sendto(b"reply", back)
        assert await recv(far) == (b"reply", front)  # the far end sees the front socket
        other.sendto(b"second source", front)
        data, back2 = await recv(owner)
        assert data == b"second source" and back2 != back
        owner.sendto(b"to other", back2)
        assert (await recv(other))[0] == b"to other"
        counters = relay.state("conf").counters
        assert (counters.forwarded_packets, counters.dropped_packets) == (4, 0)

        relay.set_path("conf", blocked=True)
        far.sendto(b"blocked", front)
        owner.sendto(b"blocked too", back)
        assert await nothing_arrives(owner) and await nothing_arrives(far)
        assert (counters.forwarded_packets, counters.dropped_packets) == (4, 2)
        relay.set_path("conf", blocked=False)
        far.sendto(b"again", front)
        assert (await recv(owner))[0] == b"again"

        relay.release("conf", "call-1")
        assert relay.ports("conf") == []
        far.sendto(b"after release", front)
        assert await nothing_arrives(owner)
    finally:
        relay.close()


async def test_a_scope_keeps_its_newest_ports() -> None:
    relay = PathRelay(max_ports_per_scope=2)
    try:
        for port in (1001, 1002, 1003):
            relay.rewrite_candidate("s", "call", f"1 1 udp 1 127.0.0.1 {port} typ host")
        assert [p.target[1] for p in relay.ports("s")] == [1002, 1003]
    finally:
        relay.close()
    with pytest.raises(PathRelayError, match="closed"):
        relay.rewrite_candidate("s", "call", "1 1 udp 1 127.0.0.1 1004 typ host")


# -- two aiortc peers through the relay, path blocked and restored -----------------------------

CONFIG = EmulatorConfig(
    conferences=[
        ConferenceConfig(aliases=["dm"], direct_media=True, direct_media_relay=True),
        ConferenceConfig(aliases=["plain"], direct_media=True),
    ]
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(CONFIG, media="none") as emu:
        yield emu


async def joined(http: aiohttp.ClientSession, emu: Emulator, name: str) -> Peer:
    peer = Peer(http, emu, "dm")
    await peer.join(name, direct_media=True)
    peer.ev = await peer.events()
    return peer


async def test_blocked_path_stops_media_and_restoring_it_resumes(
    http: aiohttp.ClientSession, emu: Emulator
) -> None:
    a = MediaPeer(await joined(http, emu, "a"), first=1_000_000)
    b = MediaPeer(await joined(http, emu, "b"), first=2_000_000)
    conference_id = emu.node.participants[a.peer.uuid].conference_id
    try:
        await connect_media(a, b)
        relay = emu.node.direct_media.relay
        ports = {port.address[1] for port in relay.ports(conference_id)}
        for delivered in (a.offers[0], b.offers[0]):
            found = re.findall(r"a=candidate:\S+ \d \S+ \d+ (\S+) (\d+)", delivered)
            assert found and all(ip == "127.0.0.1" and int(p) in ports for ip, p in found)
        await a.frames_from(2_000_000, 10)
        await b.frames_from(1_000_000, 10)
        state = emu.faults.path("dm")
        assert state.counters.forwarded_packets > 20  # the media really crossed the relay

        assert emu.faults.block_path(a.peer.uuid).blocked  # by participant: its conference
        await asyncio.sleep(0.5)  # frames already decoded or in flight
        seen_a, seen_b = len(a.numbers), len(b.numbers)
        forwarded, dropped = state.counters.forwarded_packets, state.counters.dropped_packets
        await asyncio.sleep(2.0)
        assert len(a.numbers) == seen_a and len(b.numbers) == seen_b  # nothing got through
        assert state.counters.forwarded_packets == forwarded
        assert state.counters.dropped_packets > dropped + 20  # but the peers kept sending

        async with http.post(
            f"{emu.base_url}/emulator/faults/path", json={"target": "dm", "blocked": False}
        ) as resp:
            result = (await resp.json())["result"]
        assert resp.status == 200 and result["blocked"] is False
        last_a, last_b = max(a.numbers), max(b.numbers)
        await a.frames_from(last_a + 1, 5)
        await b.frames_from(last_b + 1, 5)
        assert state.counters.forwarded_packets > forwarded
    finally:
        await a.close()
        await b.close()
    await a.peer.post("release_token")
    assert {port.owner for port in relay.ports(conference_id)} == {b.peer.call_uuid}
    await b.peer.post("release_token")
    assert relay.ports(conference_id) == []  # both legs gone: every port closed
    await a.peer.close()
    await b.peer.close()


async def test_trickled_candidates_are_relayed_too(
    http: aiohttp.ClientSession, emu: Emulator
) -> None:
    a, b = await joined(http, emu, "a"), await joined(http, emu, "b")
    try:
        await connect(a, b)
        host = {"candidate": "candidate:1 1 udp 2130706431 192.0.2.2 6000 typ host", "mid": "0"}
        await b.call("new_candidate", host)
        await b.call(
            "new_candidate",
            {**host, "candidate": host["candidate"].replace("192.0.2.2", "fd00::2")},
        )
        await b.call("new_candidate", {"candidate": "", "mid": "0"})
        got = await a.ev.next("new_candidate")
        ip, port = got["candidate"].split()[4:6]
        relayed = {
            p.address: p.target
            for p in emu.node.direct_media.relay.ports(emu.node.participants[a.uuid].conference_id)
        }
        assert ip == "127.0.0.1" and relayed[(ip, int(port))] == ("192.0.2.2", 6000)
        assert got["ufrag"] == "b1" and got["pwd"] == "pwd-of-b1"
        assert (await a.ev.next("new_candidate"))["candidate"] == ""  # the IPv6 one left out
        assert emu.node.direct_media.candidates_dropped == 1
    finally:
        await a.close()
        await b.close()


async def test_path_faults_need_the_relay(http: aiohttp.ClientSession, emu: Emulator) -> None:
    with pytest.raises(ValueError, match="direct_media_relay"):
        emu.faults.block_path("plain")
    with pytest.raises(ValueError, match="no conference"):
        emu.faults.block_path("nowhere")
    async with http.post(
        f"{emu.base_url}/emulator/faults/path", json={"target": "plain", "blocked": True}
    ) as resp:
        assert resp.status == 400 and "direct_media_relay" in (await resp.json())["result"]
    async with http.get(f"{emu.base_url}/emulator/faults/path", params={"target": "dm"}) as resp:
        assert (await resp.json())["result"]["blocked"] is False
    emu.faults.set_path("dm", blocked=True, loss_percent=5)
    emu.faults.clear()
    assert not emu.faults.path("dm").blocked and emu.faults.path("dm").loss_percent == 0
