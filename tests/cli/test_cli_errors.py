"""One-line errors and non-zero exits, never a traceback: a bad ``--node``, a wrong PIN, a missing
file, a bad ``PEXBOT_*`` value. The commands run as subprocesses, concurrently."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from clikit import (
    PIN,
    assert_one_line_error,
    clean_env,
    emulator_process,
    endpoint_calls,
    pexbot,
    traffic,
    write_config,
)

NOWHERE = "http://127.0.0.1:9"  # discard port: connection refused
WRONG_PIN = "564738291"


async def test_bad_node_is_one_line_for_every_job(tmp_path: Path) -> None:
    record, probe, load = await asyncio.gather(
        pexbot("record", "--node", NOWHERE, "--alias", "x", "--out", str(tmp_path / "r")),
        pexbot("probe", "--node", NOWHERE, "--alias", "x"),
        pexbot("load", "--node", NOWHERE, "--alias", "x", "--bots", "2", "--ramp", "10"),
    )
    for done in (record, probe):
        assert_one_line_error(done, "request_token", "127.0.0.1:9")
        assert done.code == 1 and done.stdout == ""
    # load reports the failed bots in its summary, and one line on stderr
    line = assert_one_line_error(load, "2 of 2 bots failed", "TransportError x2", "127.0.0.1:9")
    assert load.code == 1 and line
    summary = json.loads(load.stdout)
    assert summary["failed"] == 2 and summary["joined"] == 0
    assert summary["failures"]["TransportError"]["count"] == 2
    assert not (tmp_path / "r" / "events.jsonl").exists()


async def test_wrong_pin_is_one_line_and_never_echoed(tmp_path: Path) -> None:
    config = write_config(tmp_path / "emu.json", [{"aliases": ["meet"], "host_pin": PIN}])
    async with emulator_process(config) as url:
        common = ("--node", url, "--alias", "meet", "--pin", WRONG_PIN)
        record, probe, load = await asyncio.gather(
            pexbot("record", *common, "--out", str(tmp_path / "r")),
            pexbot("probe", *common),
            pexbot("load", *common, "--bots", "2", "--ramp", "10", "--media", "none"),
        )
        records = await traffic(url)
    for done in (record, probe):
        assert_one_line_error(done, "PIN was not accepted")
    assert_one_line_error(load, "2 of 2 bots failed", "InvalidPin x2", "PIN was not accepted")
    for done in (record, probe, load):
        assert WRONG_PIN not in done.stdout + done.stderr and PIN not in done.stderr
    assert len(endpoint_calls(records, "request_token")) == 4
    assert endpoint_calls(records, "release_token") == []  # nothing was issued


async def test_missing_files_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    ca, report, config = await asyncio.gather(
        pexbot("probe", "--node", "https://127.0.0.1:9", "--alias", "x", "--ca-file", str(missing)),
        pexbot("probe", "--report", str(tmp_path / "no" / "such" / "dir.html")),
        pexbot("emulator", "--port", "0", "--config", str(tmp_path / "missing.json")),
    )
    assert_one_line_error(ca, "--ca-file", "no such file")
    assert_one_line_error(report, "--report", "does not exist")
    assert_one_line_error(config, "missing.json")


async def test_environment_variables_are_options() -> None:
    # PEXBOT_NODE and PEXBOT_ALIAS are used (the error names that node) ...
    env = clean_env(PEXBOT_NODE=NOWHERE, PEXBOT_ALIAS="meet", PEXBOT_BOTS="1")
    insecure_node = ("--node", "https://127.0.0.1:9", "--alias", "x")
    from_env, bad_value, insecure = await asyncio.gather(
        pexbot("load", env=env),
        # ... a value that does not parse is a one-line error naming the variable ...
        pexbot("probe", env=clean_env(PEXBOT_DURATION="soon")),
        # ... and --insecure (here from the environment) warns.
        pexbot("probe", *insecure_node, env=clean_env(PEXBOT_INSECURE="1")),
    )
    assert_one_line_error(from_env, "1 of 1 bots failed", "127.0.0.1:9")
    assert_one_line_error(bad_value, "PEXBOT_DURATION", "not a valid float")
    assert bad_value.code == 2
    lines = insecure.stderr.splitlines()
    assert lines[0] == "pexbot: warning: --insecure: the node's TLS certificate is not verified"
    assert len(lines) == 2 and lines[1].startswith("pexbot: ") and insecure.code == 1
