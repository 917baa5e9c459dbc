"""Kit for the CLI tests: ``python -m pexbot`` as a subprocess, a separately started
``pexbot emulator``, a sender bot, and checks on what the commands printed and wrote."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from media import PatternVideoSource, ToneAudioSource
from pexbot import Session

ROOT = Path(__file__).resolve().parents[2]
#: a PIN distinctive enough that finding it in an output cannot be a coincidence
PIN = "918273645"
#: lines the commands write on stderr that are not errors
INFO_LINES = ("pexbot: no --node", "pexbot: metrics at", "pexbot: report written")


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any PEXBOT_* variable of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEXBOT_")}
    env.update(extra)
    return env


async def spawn(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pexbot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env or clean_env(),
    )


async def finish(proc: asyncio.subprocess.Process, within: float = 90.0) -> Done:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        tail = err.decode()[-2000:]
        raise AssertionError(f"pexbot did not finish in {within:.0f} s: {tail}") from None
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


async def pexbot(*args: str, env: dict[str, str] | None = None, within: float = 90.0) -> Done:
    return await finish(await spawn(*args, env=env), within)


async def read_line_with(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> str:
    """Read lines until one contains ``marker``; every line read goes into ``seen``."""
    while True:
        raw = await asyncio.wait_for(stream.readline(), 60)
        if not raw:
            raise AssertionError(f"stream ended before {marker!r}: {''.join(seen)[-2000:]}")
        line = raw.decode()
        seen.append(line)
        if marker in line:
            return line


def url_in(line: str) -> str:
    return next(word for word in line.split() if word.startswith("http://"))


@contextlib.asynccontextmanager
async def emulator_process(config: Path | None = None) -> AsyncIterator[str]:
    """``pexbot emulator --port 0`` in its own process; yields its base URL."""
    args = ["emulator", "--port", "0", "--video-size", "320x180", "--fps", "10"]
    if config is not None:
        args += ["--config", str(config)]
    proc = await spawn(*args)
    assert proc.stdout is not None
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert url.startswith("http://"), url
        yield url
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def write_config(path: Path, conferences: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"conferences": conferences}))
    return path


async def traffic(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/emulator/traffic") as resp:
        assert resp.status == 200
        records: list[dict[str, Any]] = (await resp.json())["result"]
        return records


def endpoint_calls(records: list[dict[str, Any]], tail: str) -> list[dict[str, Any]]:
    return [r for r in records if r["method"] == "POST" and r["path"].endswith("/" + tail)]


def assert_one_line_error(done: Done, *fragments: str) -> str:
    assert done.code != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    # stderr may also hold a progress table and notes; exactly one line is the error
    lines = [line for line in done.stderr.splitlines() if line.startswith("pexbot: ")]
    errors = [line for line in lines if not line.startswith(INFO_LINES)]
    assert len(errors) == 1, done.stderr
    line = errors[0]
    for fragment in fragments:
        assert fragment in line, line
    return line


@contextlib.asynccontextmanager
async def sender(
    url: str,
    alias: str,
    *,
    pin: str | None = None,
    present_after: float | None = None,
    present_for: float = 2.0,
    chat: str | None = None,
) -> AsyncIterator[Session]:
    """A bot in the test process sending the pattern and tone into ``alias``; optionally a chat
    message, and a presentation (another pattern) from ``present_after`` for ``present_for``."""
    video = PatternVideoSource(320, 180, fps=10)
    audio = ToneAudioSource()
    async with Session(url, alias, display_name="sender", pin=pin) as session:
        call = await session.call(audio=audio, video=video)

        async def script() -> None:
            if chat:
                await session.conference.message(chat)
            if present_after is not None:
                await asyncio.sleep(present_after)
                slides = PatternVideoSource(320, 180, fps=5)
                await call.start_presenting(slides)
                await asyncio.sleep(present_for)
                await call.stop_presenting()
                slides.stop()

        task = asyncio.get_running_loop().create_task(script())
        try:
            yield session
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            video.stop()
            audio.stop()


def events_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def names(records: Sequence[dict[str, Any]]) -> list[str]:
    return [r["event"] for r in records]
