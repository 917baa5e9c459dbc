"""Fault class 7: the disk fills up under a recording (a 1.5 MiB tmpfs, mounted by the test;
skipped where it cannot mount). One clear line, a non-zero exit, the call left and the token
released, and what was written kept and playable."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import assert_one_line_error, emulator_process, endpoint_calls, pexbot, sender, traffic
from test_cli_record import decode


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


async def test_disk_full_mid_recording_is_one_line_and_keeps_what_was_written(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk", "1536k") as disk:
        out = disk / "rec"
        async with emulator_process() as url, sender(url, "meet"):
            done = await pexbot(
                "record", "--node", url, "--alias", "meet", "--out", str(out),
                "--duration", "120", "--no-status", within=150,
            )  # fmt: skip
            records = await traffic(url)
        line = assert_one_line_error(done)
        assert "no space left" in line.lower(), line
        assert "Traceback" not in done.stderr
        recorder = next(
            r["response_json"]["result"]["participant_uuid"]
            for r in endpoint_calls(records, "request_token")
            if r["request_json"]["display_name"] == "pexbot"
        )
        # The sender is still in: the one release is the recorder's, after its call's disconnect.
        assert len(endpoint_calls(records, "release_token")) == 1
        paths = [r["path"] for r in records if recorder in r["path"]]
        assert any(p.endswith("/disconnect") and "/calls/" in p for p in paths)
        kept = decode(out / "main.mkv")  # playable: every frame decodes
        print("disk full:", line, f"kept {kept.duration:.1f} s", kept.video, kept.audio)
        assert kept.duration > 2.0 and kept.video > 20 and kept.audio > 50
        assert (out / "events.jsonl").read_text()  # the event log too
