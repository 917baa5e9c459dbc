"""Fault class 7, second half: the output directory becomes unwritable under a recording.

We run as root, so ``chmod`` stops nothing, and a tmpfs cannot be remounted read-only while the
recorder holds files open on it (EBUSY). What *can* be made read-only mid-recording is a bind
mount of the output directory over itself (``mount --bind D D`` then ``remount,bind,ro``): the
files already open keep their writable mount (as open files do when a directory's permissions
change), and every file opened afterwards fails with EROFS. ``presentation.mkv`` is opened only
when someone presents, so a presentation that starts after the directory went read-only makes
the recorder open a file where it cannot: one clear line, a non-zero exit, the call left and
the token released, and ``main.mkv`` (open before) finished and playable. Skipped where the
test cannot mount.

A directory read-only from the start is the same mount made before the job starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import (
    Done,
    emulator_process,
    endpoint_calls,
    finish,
    pexbot,
    sender,
    spawn,
    traffic,
)
from test_cli_record import decode


def _mount(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["mount", *args], capture_output=True)


@contextlib.contextmanager
def read_only_later(directory: Path) -> Iterator[contextlib.AbstractContextManager[None]]:
    """Yields a context manager that makes ``directory`` read-only (a read-only bind mount over
    itself) while it is entered; the mount is gone at the end in any case."""
    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    mounted: list[bool] = []

    @contextlib.contextmanager
    def made_read_only() -> Iterator[None]:
        bound = _mount("--bind", str(directory), str(directory))
        if bound.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {bound.stderr.decode().strip()}")
        mounted.append(True)
        ro = _mount("-o", "remount,bind,ro", str(directory))
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {ro.stderr.decode().strip()}")
        probe = directory / ".probe"
        with pytest.raises(OSError):
            probe.write_text("x")  # really read-only, for root too
        yield

    try:
        yield made_read_only()
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(directory)], check=False)


def recorder_uuid(records: list[dict[str, object]]) -> str:
    return next(
        r["response_json"]["result"]["participant_uuid"]  # type: ignore[index]
        for r in endpoint_calls(records, "request_token")
        if r["request_json"]["display_name"] == "pexbot"  # type: ignore[index]
    )


def left_cleanly(records: list[dict[str, object]]) -> None:
    """The recorder's call was disconnected and its token released (the sender is still in)."""
    recorder = recorder_uuid(records)
    assert len(endpoint_calls(records, "release_token")) == 1
    paths = [str(r["path"]) for r in records if recorder in str(r["path"])]
    assert any(p.endswith("/disconnect") and "/calls/" in p for p in paths), paths


def one_error_line(done: Done) -> str:
    assert done.code != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("pexbot: ")]
    errors = [line for line in lines if "error" in line.lower() or "read-only" in line.lower()]
    assert len(errors) == 1, done.stderr
    return errors[0]


def _grown(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 20_000


async def wait_for_growth(path: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _grown(path):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path} did not grow within {within:.0f} s")


async def test_directory_read_only_mid_recording_is_one_line_and_keeps_main(
    tmp_path: Path,
) -> None:
    out = tmp_path / "rec"
    out.mkdir()
    with read_only_later(out) as read_only:
        async with emulator_process() as url:
            # The sender presents 8 s after joining: by then the directory is read-only.
            async with sender(url, "meet", present_after=8.0, present_for=3.0):
                started = time.monotonic()
                proc = await spawn(
                    "record", "--node", url, "--alias", "meet", "--out", str(out),
                    "--duration", "60", "--no-status",
                )  # fmt: skip
                await wait_for_growth(out / "main.mkv")
                with read_only:
                    done = await finish(proc, within=90)
                    elapsed = time.monotonic() - started
                records = await traffic(url)
    line = one_error_line(done)
    print("read-only mid recording:", line, f"after {elapsed:.1f} s")
    assert "read-only" in line.lower() and "presentation" in line.lower(), line
    assert elapsed < 45, "the job went on instead of stopping"
    left_cleanly(records)
    kept = decode(out / "main.mkv")  # every frame decodes, the trailer was written
    print("kept", f"{kept.duration:.1f} s", kept.video, "video frames", kept.audio, "audio")
    assert kept.duration > 4.0 and kept.video > 30 and kept.audio > 100
    assert not (out / "presentation.mkv").exists()
    assert (out / "events.jsonl").read_text()  # opened before: it kept its writes


async def test_directory_read_only_from_the_start_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    out.mkdir()
    with read_only_later(out) as read_only, read_only:
        async with emulator_process() as url, sender(url, "meet"):
            done = await pexbot(
                "record", "--node", url, "--alias", "meet", "--out", str(out),
                "--duration", "30", "--no-status", within=60,
            )  # fmt: skip
            records = await traffic(url)
    line = one_error_line(done)
    print("read-only from the start:", line)
    assert "read-only" in line.lower(), line
    assert not list(out.iterdir())
    # The output is opened before the call: the token is released and no call was made.
    recorder = recorder_uuid(records)
    assert len(endpoint_calls(records, "release_token")) == 1
    assert not [r for r in records if recorder in str(r["path"]) and "/calls" in str(r["path"])]
