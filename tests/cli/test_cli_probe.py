"""``pexbot probe`` as a subprocess: the embedded test call (its own pattern comes back), and a
separately started ``pexbot emulator`` with a threshold it cannot meet."""

from __future__ import annotations

import json
import re
from pathlib import Path

from clikit import emulator_process, pexbot, write_config


async def test_probe_embedded_loopback_report_and_html(tmp_path: Path) -> None:
    html = tmp_path / "probe.html"
    done = await pexbot(
        "probe", "--duration", "4", "--report", str(html),
        "--min-fps", "5", "--max-latency-ms", "2000", "--max-loss-pct", "5",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["failures"] == []
    assert report["embedded"] is True and report["alias"] == "test_call"
    assert report["thresholds"] == {"min_fps": 5, "max_latency_ms": 2000, "max_loss_pct": 5}
    assert 0 < report["join_ms"] < 10_000
    assert 0 < report["call_setup_ms"] < 20_000
    assert 0 < report["first_frame_ms"] < 10_000
    video, audio = report["video"], report["audio"]
    assert video["fps"] > 5 and (video["width"], video["height"]) == (320, 180)
    assert video["frames"] > 20 and video["freezes"] >= 0
    # a test call loops back our own pattern: most numbers read are ours
    assert video["own_codes"] > 10 and video["own_codes"] >= video["codes_read"] * 0.9
    assert 0 < video["latency_ms"]["median"] < 2000
    assert audio["tone_fraction"] > 0.5 and -40 < audio["level_dbfs"] < 0
    assert audio["latency_ms"] is None or 0 < audio["latency_ms"]["median"] < 1000
    assert report["av_offset_ms"] is None or abs(report["av_offset_ms"]) < 1000
    net = report["network"]
    assert net["packets_received"] > 50 and 0 <= net["loss_pct"] <= 5
    assert net["rx_kbps"] > 10 and net["tx_kbps"] > 10
    assert set(net["jitter_ms"]) == {"audio", "video"}

    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "PASS" in page
    for chart in ("Frame rate", "Latency", "Bitrate", "Jitter", "Audio level"):
        assert f"<h2>{chart} (" in page
    assert len(re.findall(r"<polyline ", page)) >= 6


async def test_probe_separate_emulator_impossible_threshold_fails(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "emu.json", [{"aliases": ["loop"], "service_type": "test_call"}]
    )
    async with emulator_process(config) as url:
        done = await pexbot(
            "probe", "--node", url, "--alias", "loop", "--duration", "3", "--json",
            "--min-fps", "1000", "--max-latency-ms", "2000",
        )  # fmt: skip
    assert done.code == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1  # --json: one object on one line
    report = json.loads(lines[0])
    assert report["ok"] is False and report["embedded"] is False
    assert len(report["failures"]) == 1 and report["failures"][0].startswith("fps ")
    assert "--min-fps 1000" in report["failures"][0]
    assert "pexbot: probe failed: fps" in done.stderr
    assert report["video"]["fps"] > 5 and report["video"]["own_codes"] > 5
    assert 0 < report["video"]["latency_ms"]["median"] < 2000
