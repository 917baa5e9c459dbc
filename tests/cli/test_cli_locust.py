"""Locust drives pexbots: a master and two workers (``LOCUST_SKIP_MONKEY_PATCH=1``), headless,
against ``pexbot emulator`` in its own process; Locust's own CSV report is what is checked.

Locust is never imported here: importing it patches this process with gevent.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import socket
import sys
from pathlib import Path

import pytest
from clikit import ROOT, clean_env, emulator_process, finish, pexbot, traffic

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None, reason="locust is not installed (pexbot[load])"
)

BOTS = 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def locust(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "locust", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
    )  # fmt: skip


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as file:
        return {row["Name"]: row for row in csv.DictReader(file)}


async def test_master_and_two_workers_reach_the_bots_with_media(tmp_path: Path) -> None:
    where = await pexbot("load", "--locustfile")
    assert where.code == 0, where.stderr
    locustfile = where.stdout.strip()
    assert locustfile.endswith("pexbot/jobs/locustfile.py")
    port = str(free_port())
    prefix = tmp_path / "run"
    async with emulator_process() as url:
        master = await locust(
            "-f", locustfile, "--master", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--host", url, "--pexbot-alias", "demo",
            "--headless", "-u", str(BOTS), "-r", "3", "-t", "20s", "--expect-workers", "2",
            "--csv", str(prefix), "--only-summary",
            env=clean_env(),
        )  # fmt: skip
        # The workers take the locustfile and the --pexbot-* options from the master.
        worker_args = ["-f", "-", "--worker", "--master-host", "127.0.0.1", "--master-port", port]
        worker_env = clean_env(LOCUST_SKIP_MONKEY_PATCH="1")
        workers = [await locust(*worker_args, env=worker_env) for _ in range(2)]
        done = await finish(master, within=90)
        ended = [await finish(worker, within=30) for worker in workers]
        calls = await traffic(url)
    assert done.code == 0, done.stderr[-3000:]
    for worker in ended:
        assert worker.code == 0, worker.stderr[-3000:]
        assert "Traceback" not in worker.stderr, worker.stderr[-3000:]
    stats = rows(prefix.with_name("run_stats.csv"))
    for name in ("join", "first_frame"):
        assert stats[name]["Type"] == "pexbot"
        assert stats[name]["Request Count"] == str(BOTS), stats
        assert stats[name]["Failure Count"] == "0", stats
    assert 0 < float(stats["join"]["Max Response Time"]) < 15_000
    assert "media_stall" not in stats and "call" not in stats, stats
    assert stats["Aggregated"]["Failure Count"] == "0"
    assert rows(prefix.with_name("run_failures.csv")) == {}
    # every bot joined on its own token, from both workers, and released it on the way out
    joins = [c for c in calls if c["method"] == "POST" and c["path"].endswith("/request_token")]
    releases = [c for c in calls if c["path"].endswith("/release_token")]
    assert len(joins) == BOTS and len(releases) == BOTS
