"""``python -m pexbot emulator`` as a subprocess: URL first on stdout, serves, stops cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "emulator-config.json"


async def start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pexbot",
        "emulator",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc, line.decode().strip()


async def stop(proc: asyncio.subprocess.Process, sig: int) -> int:
    proc.send_signal(sig)
    try:
        return await asyncio.wait_for(proc.wait(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_prints_base_url_first_and_serves_status(sig: int) -> None:
    proc, url = await start("--config", str(EXAMPLE))
    try:
        assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/api/client/v2/status") as resp:
                assert resp.status == 200
                assert await resp.json() == {"status": "success", "result": "OK"}
            async with http.post(
                f"{url}/api/client/v2/conferences/meet/request_token",
                json={"display_name": "cli"},
            ) as resp:
                assert resp.status == 403  # the example config's "meet" has PINs
                assert (await resp.json())["result"]["pin"] == "required"
    finally:
        code = await stop(proc, sig)
    assert code == 0
    assert proc.stderr is not None
    err = (await proc.stderr.read()).decode()
    assert "Traceback" not in err


async def test_bad_config_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"conferences": [{"aliases": ["a"], "guest_pin": "1"}]}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pexbot",
        "emulator",
        "--port",
        "0",
        "--config",
        str(bad),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and out == b""  # a configuration error is a usage error
    text = err.decode()
    assert "guest_pin needs a host_pin" in text and "Traceback" not in text
