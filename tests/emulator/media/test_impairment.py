"""The impairment model (pure: parsing, the per-datagram schedule, the jitter it implies, RTCP
feedback recognised in the clear) and the relay holding real UDP datagrams by it."""

from __future__ import annotations

import asyncio
import random
import socket
import statistics
import time

import pytest

from pexbot.emulator.media.impairment import (
    Impairment,
    ImpairmentError,
    implied_interarrival_jitter_ms,
    rtcp_feedback,
)
from pexbot.emulator.media.path_relay import PathRelay


def test_parse_the_cli_syntax() -> None:
    assert Impairment.parse("loss=5%,delay=200ms,jitter=50ms") == Impairment(5, 200, 50)
    assert Impairment.parse(" delay = 0.2s ") == Impairment(delay_ms=200)
    assert Impairment.parse("loss=1.5") == Impairment(loss_percent=1.5)
    assert not Impairment.parse("").active
    for bad, why in (
        ("loss=120%", "0..100"),
        ("delay=5%", "a time"),
        ("loss=3ms", "percentage"),
        ("delay=1ms,delay=2ms", "twice"),
        ("latency=3ms", "cannot read"),
        ("jitter=-1ms", "cannot read"),
    ):
        with pytest.raises(ImpairmentError, match=why):
            Impairment.parse(bad)


def test_schedule_is_loss_then_uniform_delay() -> None:
    rng = random.Random(1)
    model = Impairment(loss_percent=5, delay_ms=200, jitter_ms=50)
    draws = [model.decide(rng) for _ in range(40_000)]
    held = [d for d in draws if d is not None]
    lost = 1 - len(held) / len(draws)
    assert 0.045 < lost < 0.055
    assert min(held) >= 0.150 and max(held) <= 0.250
    assert statistics.mean(held) == pytest.approx(0.200, abs=0.001)
    # uniform: a quarter of the draws in each 25 ms band
    band = sum(0.150 <= d < 0.175 for d in held) / len(held)
    assert band == pytest.approx(0.25, abs=0.01)
    assert Impairment().decide(rng) == 0.0
    assert Impairment(delay_ms=10, jitter_ms=30).decide(random.Random(2)) is not None
    assert all((Impairment(delay_ms=10, jitter_ms=30).decide(rng) or 0) >= 0 for _ in range(999))


def test_implied_jitter() -> None:
    wide = Impairment(delay_ms=200, jitter_ms=50)
    # no reordering (packets further apart than the spread): 2J/3, the mean |U1 - U2|
    assert implied_interarrival_jitter_ms(wide, packet_interval_ms=500) == pytest.approx(
        100 / 3, rel=0.03
    )
    # 20 ms audio packets are reordered by ±50 ms, and aiortc skips the late ones: lower
    audio = implied_interarrival_jitter_ms(wide, packet_interval_ms=20)
    assert 15 < audio < 30
    assert implied_interarrival_jitter_ms(Impairment(delay_ms=200), packet_interval_ms=20) == 0


def test_rtcp_feedback_is_seen_in_the_clear() -> None:
    ssrcs = bytes(8) + bytes(10)
    nack = bytes([0x80 | 1, 205, 0, 3]) + ssrcs
    pli = bytes([0x80 | 1, 206, 0, 2]) + ssrcs
    remb = bytes([0x80 | 15, 206, 0, 2]) + ssrcs
    rr = bytes([0x81, 201, 0, 7]) + ssrcs
    rtp = bytes([0x80, 96, 0, 1]) + ssrcs
    assert [rtcp_feedback(p) for p in (nack, pli, remb, rr, rtp, b"\x80\xcd")] == [
        "nack",
        "pli",
        None,
        None,
        None,
        None,
    ]


async def test_relay_holds_datagrams_by_the_impairment() -> None:
    owner = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    owner.bind(("127.0.0.1", 0))
    far.bind(("127.0.0.1", 0))
    owner.setblocking(False)
    relay = PathRelay(impairment=Impairment(delay_ms=150, jitter_ms=20), rng=random.Random(3))
    loop = asyncio.get_running_loop()
    try:
        line = f"candidate:1 1 udp 1 127.0.0.1 {owner.getsockname()[1]} typ host"
        rewritten = relay.rewrite_candidate("room", "call", line)
        assert rewritten is not None
        front = ("127.0.0.1", int(rewritten.split()[5]))
        sent = {}
        for i in range(20):
            sent[i] = time.monotonic()
            far.sendto(i.to_bytes(2, "big"), front)
            await asyncio.sleep(0.005)
        delays = []
        for _ in range(20):
            data = await asyncio.wait_for(loop.sock_recv(owner, 100), 5)
            delays.append(time.monotonic() - sent[int.from_bytes(data, "big")])
        assert min(delays) >= 0.125  # 150 - 20, less timer slack
        assert statistics.median(delays) < 0.5  # held, not stuck
        counters = relay.state("room").counters
        assert counters.delayed_packets == 20 and counters.forwarded_packets == 20
        relay.set_path("room", impairment=Impairment(delay_ms=5000))
        far.sendto(b"held", front)
        await asyncio.sleep(0.1)
        relay.close()  # the held datagram is cancelled with its port, never sent
        await asyncio.sleep(0.1)
        with pytest.raises(BlockingIOError):
            owner.recv(100)
    finally:
        relay.close()
        owner.close()
        far.close()
