"""TLS against a local HTTPS emulator with a CA of its own: verification is on by default (the
join fails, in one line), ``--ca-file`` with that CA joins, ``--insecure`` joins and warns."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from clikit import assert_one_line_error, pexbot, spawn
from tls_kit import TlsFiles, make_tls


@contextlib.asynccontextmanager
async def https_emulator(tls: TlsFiles) -> AsyncIterator[str]:
    proc = await spawn(
        "emulator", "--port", "0", "--media", "none",
        "--tls-cert", str(tls.cert), "--tls-key", str(tls.key),
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert url.startswith("https://127.0.0.1:"), url
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)


async def test_https_node_verified_by_default_with_ca_file_or_insecure(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    async with https_emulator(tls) as url:
        join = ("join", "--node", url, "--alias", "meet", "--duration", "1")
        refused = await pexbot(*join)
        line = assert_one_line_error(refused)
        assert "certificate" in line.lower() or "ssl" in line.lower(), line

        trusted = await pexbot(*join, "--ca-file", str(tls.ca))
        assert trusted.code == 0, trusted.stderr
        assert "joined meet" in trusted.stdout
        assert "warning" not in trusted.stderr

        insecure = await pexbot(*join, "--insecure")
        assert insecure.code == 0, insecure.stderr
        assert "warning: --insecure" in insecure.stderr


async def test_emulator_tls_options_are_checked(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    half = await pexbot("emulator", "--port", "0", "--tls-cert", str(tls.cert))
    assert_one_line_error(half, "--tls-cert and --tls-key go together")
    wrong = await pexbot(
        "emulator", "--port", "0", "--tls-cert", str(tls.ca), "--tls-key", str(tls.cert)
    )
    assert_one_line_error(wrong, "not a usable certificate")
