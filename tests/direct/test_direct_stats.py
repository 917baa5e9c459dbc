"""Statistics, pure: packets counted as they arrive, rates from cumulative samples, the body
posted to the node, the interval's units."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtpPacket

from pexbot.call.stats import CallStats, StatsTracker, stats_interval_seconds
from pexbot.rtc.raw_stats import RawStream
from pexbot.rtc.rtp_counter import RtpReceiveCounter

OPUS, RTX = 111, 97


def packet(seq: int, ts: int, *, pt: int = OPUS, ssrc: int = 1, size: int = 100) -> RtpPacket:
    p = RtpPacket(payload_type=pt, sequence_number=seq & 0xFFFF, timestamp=ts, ssrc=ssrc)
    p.payload = bytes(size)
    return p


def counter() -> RtpReceiveCounter:
    c = RtpReceiveCounter()
    c.codecs = {OPUS: ("opus", 48000), RTX: ("rtx", 90000)}
    return c


def test_counter_counts_losses_across_wraparound_and_ignores_rtx() -> None:
    c = counter()
    seqs = [65530 + i for i in range(20) if i not in (3, 12)]  # two lost, one wrap
    for i, seq in enumerate(seqs):
        c.packet(packet(seq, i * 960), arrival_ms=i * 20)
    c.packet(packet(7, 0, pt=RTX, ssrc=2), arrival_ms=500)
    assert c.packets == 19 and c.bytes == 1900
    assert c.lost == 2
    assert c.codec == "opus"  # the last media packet, not the RTX one


def test_counter_jitter_in_ms() -> None:
    steady = counter()
    for i in range(50):
        steady.packet(packet(i, i * 960), arrival_ms=i * 20)
    assert steady.jitter_ms == pytest.approx(0.0)
    shaky = counter()
    for i in range(200):
        shaky.packet(packet(i, i * 960), arrival_ms=i * 20 + (10 if i % 2 else 0))
    assert shaky.jitter_ms == pytest.approx(10.0, abs=1.0)  # RFC 3550 converges to |D|


def test_counter_new_source_starts_a_new_sequence() -> None:
    c = counter()
    for i in range(10):
        c.packet(packet(1000 + i, i * 960, ssrc=1), arrival_ms=i * 20)
    for i in range(10):  # a rebuilt connection: new SSRC, sequence numbers from elsewhere
        c.packet(packet(50 + i, i * 960, ssrc=9), arrival_ms=400 + i * 20)
    assert c.packets == 20 and c.lost == 0


def test_tracker_rates_and_restarted_senders() -> None:
    tracker = StatsTracker()
    first = RawStream(
        rx_packets=100,
        rx_bytes=10_000,
        rx_frames=30,
        rx_size=(320, 180),
        tx_generation=1,
        tx_packets=100,
        tx_bytes=20_000,
        tx_codec="VP8",
        tx_frames=30,
        tx_size=(320, 180),
    )
    stats = tracker.update(10.0, {"video": first})
    assert stats.video.rx_bitrate_kbps == 0.0  # no window yet
    later = RawStream(
        rx_packets=200,
        rx_bytes=135_000,
        rx_lost=10,
        rx_frames=45,
        rx_size=(320, 180),
        rx_jitter_ms=3.0,
        tx_generation=2,  # a new peer connection: its sender counts from zero
        tx_packets=50,
        tx_bytes=25_000,
        tx_codec="VP8",
        tx_frames=45,
        tx_size=(320, 180),
    )
    stats = tracker.update(11.0, {"video": later})
    video = stats.video
    assert video.rx_bitrate_kbps == pytest.approx(1000.0)
    assert video.tx_bitrate_kbps == pytest.approx(200.0)  # 25 kB on top of the first 20 kB
    assert video.tx_packets == 150
    assert video.rx_fps == pytest.approx(15.0) and video.tx_fps == pytest.approx(15.0)
    assert video.rx_loss_percent == pytest.approx(100 * 10 / 210)
    assert video.rx_windowed_loss_percent == pytest.approx(100 * 10 / 110)
    assert stats.window == pytest.approx(1.0)


def test_wire_body_leaves_silent_streams_out() -> None:
    tracker = StatsTracker()
    tracker.update(0.0, {"audio": RawStream(rx_packets=1, tx_generation=1, tx_packets=1)})
    stats = tracker.update(
        1.0,
        {
            "audio": RawStream(
                rx_packets=51,
                rx_bytes=8000,
                rx_jitter_ms=1.26,
                rx_codec="opus",
                tx_generation=1,
                tx_packets=51,
                tx_bytes=6000,
                tx_codec="opus",
            )
        },
    )
    body = stats.to_wire().body()
    assert set(body) == {"audio"}
    audio = body["audio"]
    assert audio["rx_bitrate"] == 64.0 and audio["tx_bitrate"] == 48.0
    assert audio["rx_codec"] == "opus" and audio["rx_jitter"] == 1.3
    assert audio["rx_packets_received"] == 51 and audio["tx_packets_sent"] == 51
    assert "rx_resolution" not in audio and "rx_fps" not in audio
    assert CallStats().to_wire().body() == {}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, None), (0, None), (5000, 5.0), (30000, 30.0), (10, 10.0), (0.5, 1.0), (500, 1.0)],
)
def test_interval_units(value: float | None, seconds: float | None) -> None:
    assert stats_interval_seconds(value) == seconds
