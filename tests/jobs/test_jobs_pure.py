"""The jobs' pure parts: percentiles, RTP rates, thresholds, metrics text, status lines, the
events timeline and the HTML report. No sockets, no subprocesses."""

from __future__ import annotations

import io
import re
import types
from typing import Any

import pytest

from pexbot.jobs.event_log import EventTimeline, jsonable
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.probe_report import chart_svg, render_html
from pexbot.jobs.probe_result import ProbeReport, Thresholds, VideoResult, add_point, evaluate
from pexbot.jobs.stats import RtpRates, RtpTotals, percentile, summary, totals_from_stats
from pexbot.jobs.status_line import StatusLine, bitrate_text, clock_text, load_row, record_status
from pexbot.wire import Participant
from pexbot.wire.token import RequestTokenResult


def test_percentiles_interpolate_and_summary_rounds() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 99) == 10
    assert percentile([5, 1, 3], 0) == 1 and percentile([5, 1, 3], 100) == 5
    with pytest.raises(ValueError):
        percentile([], 50)
    s = summary([100.0, 200.0, 300.0, 400.0, 1000.0])
    assert s == {
        "count": 5, "min": 100.0, "p50": 300.0, "p90": 760.0, "p99": 976.0,
        "max": 1000.0, "mean": 400.0,
    }  # fmt: skip
    assert summary([]) is None


def stat(type_: str, **fields: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(type=type_, **fields)


def test_rtp_totals_fold_aiortc_stats_and_rates_between_samples() -> None:
    report = {
        "t": stat("transport", bytesReceived=10_000, bytesSent=20_000),
        "a": stat("inbound-rtp", kind="audio", packetsReceived=90, packetsLost=10, jitter=48),
        "v": stat("inbound-rtp", kind="video", packetsReceived=100, packetsLost=-1, jitter=900),
        "o": stat("outbound-rtp", kind="video", packetsSent=5, bytesSent=5000),
    }
    first = totals_from_stats(report, at=10.0)
    assert (first.bytes_received, first.bytes_sent) == (10_000, 20_000)
    assert first.kinds["audio"].jitter_ms == 1.0  # 48 units of a 48 kHz clock
    assert first.kinds["video"].jitter_ms == 10.0  # 900 units of 90 kHz
    assert first.packets_lost == 10 and first.loss_pct == 5.0  # -1 (duplicates) counts as 0
    later = RtpTotals(at=12.0, bytes_received=60_000, bytes_sent=20_000, kinds=first.kinds)
    rates = RtpRates.between(first, later)
    assert rates.rx_bps == 200_000 and rates.tx_bps == 0 and rates.loss_pct == 0.0


def probe_report(**overrides: Any) -> ProbeReport:
    base: dict[str, Any] = {
        "node": "http://n",
        "alias": "a",
        "join_ms": 40.0,
        "first_frame_ms": 300.0,
        "video": VideoResult(frames=100, fps=14.5, freezes=1, latency_ms={"median": 120.0}),
        "av_offset_ms": -30.0,
    }
    return ProbeReport(**{**base, **overrides})


def test_thresholds_say_what_failed() -> None:
    report = probe_report()
    assert evaluate(report, Thresholds()) == []
    ok = Thresholds(min_fps=10, max_latency_ms=500, max_freezes=1, max_av_offset_ms=50)
    assert evaluate(report, ok) == []
    failures = evaluate(report, Thresholds(min_fps=1000, max_join_ms=10, max_av_offset_ms=20))
    assert failures == [
        "fps 14.5 < --min-fps 1000",
        "join time (ms) 40 > --max-join-ms 10",
        "A/V offset (|ms|) 30 > --max-av-offset-ms 20",
    ]
    silent = probe_report(video=VideoResult())
    assert evaluate(silent, Thresholds(max_latency_ms=500, min_fps=1)) == [
        "fps not measured (--min-fps 1)",
        "video latency (median, ms) not measured (--max-latency-ms 500)",
    ]


def test_metrics_text_format() -> None:
    calls = []
    registry = MetricsRegistry(collect=lambda r: calls.append(r))
    registry.describe("pexbot_bots_joined", "bots in the conference")
    registry.describe("pexbot_frames_total", "frames\nwritten", "counter")
    registry.set("pexbot_bots_joined", 3)
    registry.set("pexbot_frames_total", 1.5, role='ma"in', kind="video")
    registry.set("pexbot_unknown", float("nan"))
    text = registry.render()
    assert calls == [registry]
    assert text.splitlines() == [
        "# HELP pexbot_bots_joined bots in the conference",
        "# TYPE pexbot_bots_joined gauge",
        "pexbot_bots_joined 3",
        "# HELP pexbot_frames_total frames\\nwritten",
        "# TYPE pexbot_frames_total counter",
        'pexbot_frames_total{kind="video",role="ma\\"in"} 1.5',
        "# HELP pexbot_unknown pexbot unknown",
        "# TYPE pexbot_unknown gauge",
        "pexbot_unknown NaN",
    ]
    with pytest.raises(ValueError):
        registry.describe("1bad name", "x")
    registry.clear("pexbot_frames_total")
    assert registry.value("pexbot_frames_total", role='ma"in', kind="video") is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_status_line_on_a_pipe_writes_now_and_then_and_the_last_at_close() -> None:
    out, clock = io.StringIO(), Clock()
    line = StatusLine(out, tty=False, header="HEAD", pipe_every=10, clock=clock)
    for second in range(25):
        clock.now = float(second)
        line.show(f"s{second}")
    line.close()
    line.show("after close")
    assert out.getvalue().splitlines() == ["HEAD", "s0", "s10", "s20", "s24"]


def test_status_line_on_a_terminal_redraws_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    line = StatusLine(out, tty=True, clock=clock)
    line.show("one")
    clock.now = 1.0
    line.show("two")
    line.close()
    assert out.getvalue() == "\rone\x1b[K\rtwo\x1b[K\n"


def test_status_texts() -> None:
    assert (
        clock_text(0) == "00:00" and clock_text(75.9) == "01:15" and clock_text(3725) == "1:02:05"
    )
    assert bitrate_text(None) == "-" and bitrate_text(1_234_567) == "1.23 Mbit/s"
    assert bitrate_text(64_000) == "64 kbit/s"
    assert (
        record_status(12, 500_000, 1, ("main", "presentation"))
        == "recording 00:12  500 kbit/s  1 participant  main+presentation"
    )
    assert record_status(0, None, 3, ()).endswith("3 participants  waiting for media")
    assert load_row(2, target=5, started=3, joined=2, media=1, failed=1, left=0).split() == [
        "00:02", "3/5", "2", "1", "1", "0",
    ]  # fmt: skip


def test_event_timeline_waits_for_the_recording_clock() -> None:
    timeline = EventTimeline(limit=3)
    timeline.add({"event": "roster"}, mono=100.0, wall=1_700_000_000.0)
    timeline.add({"event": "participant_create"}, mono=100.5, wall=1_700_000_000.5)
    assert timeline.ready(None) == []  # no frame yet: they wait
    out = timeline.ready(101.0)
    assert [(r["event"], r["t"]) for r in out] == [("roster", -1.0), ("participant_create", -0.5)]
    assert out[0]["wall"] == "2023-11-14T22:13:20.000Z"
    for i in range(5):
        timeline.add({"event": f"e{i}"}, mono=200.0 + i, wall=0.0)
    assert timeline.dropped == 2
    final = timeline.ready(None, final=True)
    assert [(r["event"], r["t"]) for r in final] == [("e2", None), ("e3", None), ("e4", None)]


def test_jsonable_leaves_secrets_out() -> None:
    info = RequestTokenResult.model_construct(
        token="SECRET-TOKEN", expires="120", participant_uuid="p", display_name="d", role="HOST"
    )
    assert "SECRET-TOKEN" not in str(jsonable(info))
    participant = Participant(uuid="u", display_name="Alice")
    assert jsonable([participant])[0]["display_name"] == "Alice"


def test_html_report_has_a_chart_per_quantity() -> None:
    series: dict[str, list[tuple[float, float]]] = {}
    for t in range(5):
        add_point(series, "fps", t, 15 - t)
        add_point(series, "video_latency_ms", t, 100 + t)
        add_point(series, "audio_latency_ms", t, None)  # a gap: not drawn
    with pytest.raises(KeyError):
        add_point(series, "nonsense", 0, 1)
    report = probe_report(ok=False, failures=["fps 14.5 < --min-fps <1000>"])
    page = render_html(report, series)
    assert "FAIL" in page and "&lt;1000&gt;" in page  # escaped
    assert re.findall(r"<h2>([^<]*)</h2>", page) == [
        "Summary", "Frame rate (frames/s)", "Latency (ms)", "Report",
    ]  # fmt: skip
    points = re.findall(r'points="([^"]*)"', page)
    assert len(points) == 2
    for polyline in points:
        for pair in polyline.split():
            x, y = (float(v) for v in pair.split(","))
            assert 0 <= x <= 640 and 0 <= y <= 200
    assert chart_svg([("empty", [])]) == "<p>(no data)</p>"
