"""Secrets stay secret in every job: each of them runs at debug level (spelt in lower case) with a
known PIN and 3-second tokens (so each refreshes several times), and neither the PIN nor any
token the node issued appears in stdout, stderr, the Prometheus metrics, or any file written.

The emulator runs in this process so that the test sees every token it issues (the traffic log
redacts them, rightly); the jobs run as subprocesses against it, as a user runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from clikit import PIN, clean_env, finish, read_line_with, spawn, url_in
from test_cli_present import write_png

from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.conference import tokens as token_module

JOBS = {
    "join": ["join", "--alias", "meet", "--duration", "4"],
    "record": ["record", "--alias", "meet", "--duration", "4", "--out", "{tmp}/rec"],
    "probe": ["probe", "--alias", "loop", "--duration", "4", "--report", "{tmp}/probe.html"],
    "load": ["load", "--alias", "meet", "--bots", "2", "--ramp", "4", "--duration", "4"],
    "present": ["present", "{tmp}/slide.png", "--alias", "meet", "--duration", "4"],
}


def _written(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp.rglob("*")) if p.is_file())


@pytest.mark.parametrize("job", sorted(JOBS))
async def test_no_job_shows_a_pin_or_a_token(
    job: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued: list[str] = []
    new_secret = token_module.new_secret

    def spy() -> str:
        issued.append(new_secret())
        return issued[-1]

    monkeypatch.setattr(token_module, "new_secret", spy)
    config = EmulatorConfig.model_validate(
        {
            "conferences": [
                {"aliases": ["meet"], "host_pin": PIN, "token_lifetime": 3},
                {
                    "aliases": ["loop"],
                    "host_pin": PIN,
                    "token_lifetime": 3,
                    "service_type": "test_call",
                },
            ]
        }
    )
    out = tmp_path / "out"
    out.mkdir()
    write_png(out / "slide.png", (200, 40, 40))
    args = [a.replace("{tmp}", str(out)) for a in JOBS[job]]
    async with Emulator(config, media_size=(320, 180), media_fps=10) as emu:
        url = emu.base_url
        env = clean_env(PEXBOT_PIN=PIN, PEXBOT_LOG_LEVEL="debug", PEXBOT_NODE=url)
        proc = await spawn(*args, "--metrics-port", "0", "--json", env=env)
        assert proc.stderr is not None
        seen: list[str] = []
        line = await read_line_with(proc.stderr, "pexbot: metrics at", seen)
        await asyncio.sleep(3.0)  # past a token refresh or two
        async with aiohttp.ClientSession() as http, http.get(url_in(line)) as resp:
            metrics = await resp.text()
        done = await finish(proc, 60)
    assert done.code == 0, "".join(seen) + done.stderr
    assert "pexbot_" in metrics  # the scrape read real metrics
    tokens = issued
    assert len(tokens) >= 3, "the job should have refreshed its token"
    shown = ("".join(seen) + done.stderr + done.stdout + metrics).encode() + _written(out)
    assert b"DEBUG" in shown  # debug logging really was on
    leaked = [s for s in [PIN, *tokens] if s.encode() in shown]
    assert not leaked, f"{len(leaked)} secrets shown by {job}"
