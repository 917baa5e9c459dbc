"""What others put in a conference cannot reach our terminal, logs or file system as anything
but text: a participant whose name and chat carry ANSI escapes, forged log lines, bidi controls,
path separators and a hundred kilobytes, against ``pexbot join`` and ``pexbot record`` at debug
level. Nothing is written outside ``--out``, no control character reaches stdout or stderr, and
no line runs unbounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clikit import clean_env, pexbot

from pexbot import Session
from pexbot.emulator import Emulator

FORGED = "2026-12-03 11:00:00,000 ERROR pexbot: forged line"
ESCAPE = "\x1b[2J\x1b[1;31mPWNED\x1b[0m\x1b]0;title\x07"
HOSTILE_NAME = f"{ESCAPE}\n{FORGED} ../../../../tmp/pexbot-evil \u202elive" + "A" * 100_000
HOSTILE_CHAT = f"{ESCAPE}\r\n{FORGED}\n../../x\\..\\y " + "B" * 500_000


def _check_shown(text: str) -> None:
    for bad in ("\x1b", "\x07", "\u202e"):
        assert bad not in text, repr(bad)
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    assert max(len(line) for line in lines) < 5000


async def test_hostile_names_and_chat_stay_text(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    env = clean_env(PEXBOT_LOG_LEVEL="DEBUG")
    async with (
        Emulator(media_size=(160, 90), media_fps=5) as emu,
        Session(emu.base_url, "meet", display_name=HOSTILE_NAME) as hostile,
    ):
        base = ("--node", emu.base_url, "--alias", "meet", "--duration", "3")
        joined = pexbot("join", *base, env=env)
        recorded = pexbot("record", *base, "--out", str(out), env=env)
        join_task = asyncio.ensure_future(joined)
        record_task = asyncio.ensure_future(recorded)
        await asyncio.sleep(1.5)
        await hostile.conference.message(HOSTILE_CHAT)
        join_done, record_done = await join_task, await record_task
    for done in (join_done, record_done):
        assert done.code == 0, done.stderr[-2000:]
        _check_shown(done.stdout + done.stderr)
    assert "PWNED" in join_done.stdout  # the name was shown, as text
    assert "more characters" in join_done.stdout  # and cut
    _check_written(tmp_path)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _check_written(tmp_path: Path) -> None:
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert set(written) <= {"rec", "rec/main.mkv", "rec/presentation.mkv", "rec/events.jsonl"}
    assert not Path("/tmp/pexbot-evil").exists()
    # events.jsonl keeps what was said exactly, as JSON (escaped, one record a line)
    records = [
        json.loads(line) for line in (tmp_path / "rec/events.jsonl").read_text().splitlines()
    ]
    said = {text for record in records for text in _strings(record)}
    assert HOSTILE_NAME in said and HOSTILE_CHAT in said
