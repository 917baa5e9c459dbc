"""``pexbot load`` as a subprocess: the embedded default, and a separately started
``pexbot emulator`` with Prometheus metrics scraped while the bots are in."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from clikit import (
    assert_one_line_error,
    emulator_process,
    endpoint_calls,
    finish,
    pexbot,
    read_line_with,
    spawn,
    traffic,
)


def check_summary(summary: dict[str, object], bots: int) -> None:
    counts = {k: summary[k] for k in ("bots", "started", "joined", "failed", "left")}
    assert counts == {"bots": bots, "started": bots, "joined": bots, "failed": 0, "left": bots}
    assert summary["media_flowing"] == bots
    join = summary["join_ms"]
    assert isinstance(join, dict) and join["count"] == bots
    assert 0 < join["p50"] <= join["p90"] <= join["max"] < 15_000
    assert summary["failures"] == {}
    cpu, memory = summary["cpu"], summary["memory"]
    assert isinstance(cpu, dict) and isinstance(memory, dict)
    assert 0 < cpu["per_bot_pct"] < 200
    assert memory["per_bot_mb"] >= 0 and memory["rss_end_mb"] > 20


async def test_load_embedded_three_bots() -> None:
    done = await pexbot("load", "--bots", "3", "--ramp", "3", "--duration", "3")
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    check_summary(summary, 3)
    assert summary["embedded"] is True and summary["sends"] == "video"
    frames = summary["frames_received"]
    assert frames["count"] == 3 and frames["min"] > 10
    # Media encoded once, received undecoded, health per bot; one keyframe decoded each.
    assert summary["encoded"] is True and summary["codec"] == "vp8" and summary["healthy"] == 3
    # the bots' packets came by the RTP shortcut (rtc.rtp_fast), not aiortc's own path
    assert summary["rtp_fast_share"] > 0.9
    assert summary["shared"]["video_frames_encoded"] > 10
    # Every keyframe checked decodes; most show a number (a composing node may show a
    # participant's avatar in the main tile before their video arrives).
    assert summary["video_undecodable"] == 0
    assert summary["video_verified"] >= 2 and summary["video_unreadable"] <= 1
    assert [b["bot"] for b in summary["per_bot"]] == [1, 2, 3]
    for bot in summary["per_bot"]:
        assert bot["video"]["fps"] > 3 and bot["audio"]["fps"] > 30
        assert bot["video"]["keyframes"] >= 1 and bot["video"]["last_frame_age_s"] < 5
    table = done.stderr.splitlines()
    assert any(line.split() == ["elapsed", "started", "joined", "media", "failed", "left"]
               for line in table)  # fmt: skip
    assert table[-1].split()[1:] == ["3/3", "3", "3", "0", "3"]


async def scrape(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


async def test_load_separate_emulator_with_metrics(tmp_path: Path) -> None:
    async with emulator_process() as url:
        proc = await spawn(
            "load", "--node", url, "--alias", "demo", "--bots", "3", "--ramp", "3",
            "--duration", "4", "--media", "audio", "--metrics-port", "0", "--json",
        )  # fmt: skip
        assert proc.stderr is not None
        seen: list[str] = []
        metrics_url = (await read_line_with(proc.stderr, "metrics at", seen)).split()[-1]
        values: dict[str, float] = {}
        for _ in range(100):
            values = await scrape(metrics_url)
            if values.get("pexbot_bots_media_flowing") == 3:
                break
            await asyncio.sleep(0.1)
        done = await finish(proc)
        records = await traffic(url)
    assert values["pexbot_bots_joined"] == 3 and values["pexbot_bots_media_flowing"] == 3
    assert values["pexbot_bots_started"] == 3 and values["pexbot_errors_total"] == 0
    assert values["pexbot_frames_total"] > 0
    assert done.code == 0, "".join(seen) + done.stderr
    summary = json.loads(done.stdout)
    check_summary(summary, 3)
    assert summary["sends"] == "audio" and summary["embedded"] is False
    assert len(endpoint_calls(records, "request_token")) == 3
    assert len(endpoint_calls(records, "release_token")) == 3


async def test_load_media_file_that_cannot_be_sent_is_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    done = await pexbot("load", "--bots", "1", "--media-file", str(notes))
    assert done.code == 2
    assert_one_line_error(done, "--media-file", "notes.txt")
