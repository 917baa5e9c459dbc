"""``pexbot emulator --impair``: a bad spec is one usage line; a good one puts the relay in
front of the media ports, and a probe through it sees the delay (half its RTCP round trip)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from clikit import pexbot, spawn, write_config


async def test_bad_impairment_is_a_usage_error() -> None:
    done = await pexbot("emulator", "--port", "0", "--impair", "loss=120%", within=30)
    assert done.code == 2 and "Traceback" not in done.stderr
    assert "--impair" in done.stderr and "0..100" in done.stderr


async def test_probe_through_an_impaired_emulator_sees_the_delay(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "emu.json", [{"aliases": ["loop"], "service_type": "test_call"}]
    )
    proc = await spawn(
        "emulator", "--port", "0", "--video-size", "320x180", "--config", str(config),
        "--impair", "delay=100ms",
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        note = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert "impaired path loss=0%,delay=100ms,jitter=0ms" in note, note
        done = await pexbot(
            "probe", "--node", url, "--alias", "loop", "--duration", "8", "--json", within=60
        )
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
    report = done.json()
    one_way = report["network"]["one_way_ms"]
    assert one_way is not None and 95 <= one_way <= 115, report["network"]
    assert report["video"]["frames"] > 0
