"""``pexbot load --processes N``: the bots split over N processes against one emulator (the
embedded one, in the parent), their summaries merged into one."""

from __future__ import annotations

import json

from clikit import pexbot
from test_cli_load import check_summary


async def test_two_processes_four_bots_merge_into_one_summary() -> None:
    done = await pexbot(
        "load", "--bots", "4", "--processes", "2", "--ramp", "4", "--duration", "4", "--json"
    )
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    check_summary(summary, 4)
    assert summary["embedded"] is True
    # two children, two bots each, every one joined and received media from the shared node
    parts = summary["processes"]
    assert [p["bots"] for p in parts] == [2, 2] and [p["joined"] for p in parts] == [2, 2]
    assert all(p["exit_code"] == 0 and p["cores"] > 0 for p in parts)
    assert summary["first_media_ms"]["count"] == 4
    frames = summary["frames_received"]
    assert frames["count"] == 4 and frames["min"] > 10
    # CPU and memory are the children's and the parent's (the emulator) together
    children = sum(p["cores"] for p in parts)
    assert summary["cpu"]["process_cores"] >= children + summary["parent_cores"] - 0.01
    assert summary["memory"]["rss_end_mb"] > sum(p["rss_end_mb"] for p in parts)


async def test_locustfile_path_needs_no_bots() -> None:
    done = await pexbot("load", "--locustfile")
    assert done.code == 0, done.stderr
    assert done.stdout.strip().endswith("pexbot/jobs/locustfile.py")


async def test_bots_still_required_for_a_run() -> None:
    done = await pexbot("load", "--ramp", "2")
    assert done.code == 2 and "--bots is required" in done.stderr
