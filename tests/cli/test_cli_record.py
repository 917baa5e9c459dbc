"""``pexbot record`` as a subprocess: against the embedded default (a sender joins it from here)
and against a separately started ``pexbot emulator``, stopped by SIGINT."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from pathlib import Path

import av
import pytest
from clikit import (
    PIN,
    Done,
    assert_one_line_error,
    clean_env,
    emulator_process,
    endpoint_calls,
    events_of,
    finish,
    names,
    read_line_with,
    sender,
    spawn,
    traffic,
    url_in,
    write_config,
)

from media.analyser import luma_plane
from media.pattern import find_codes


@dataclass
class Decoded:
    kinds: list[str]
    duration: float
    video: int = 0
    audio: int = 0
    numbers: list[int] = field(default_factory=list)


def decode(path: Path) -> Decoded:
    """Decodes the whole file: frame counts per kind, pattern numbers read, duration."""
    with av.open(str(path)) as container:
        out = Decoded(sorted(s.type for s in container.streams), (container.duration or 0) / 1e6)
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                out.video += 1
                if out.video % 3 == 0:
                    out.numbers += [code.number for code in find_codes(luma_plane(frame))]
            else:
                out.audio += 1
    return out


async def test_record_embedded_default_with_a_sender(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    proc = await spawn("record", "--out", str(out), "--duration", "8", "--json")
    assert proc.stderr is not None
    seen: list[str] = []
    line = await read_line_with(proc.stderr, "in-process emulator at", seen)
    async with sender(url_in(line), "demo", chat="hello from the sender", present_after=1.5):
        done = await finish(proc)
    done.stderr = "".join(seen) + done.stderr
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    result = done.json()
    assert result["reason"] == "duration"
    assert set(result["files"]) == {"main", "presentation"}

    main = decode(out / "main.mkv")
    assert main.kinds == ["audio", "video"]
    assert main.video > 40 and main.audio > 200  # 8 s: ~10 fps composed, 50 audio/s
    assert len(main.numbers) > 5  # the sender's pattern is in the recorded picture
    slides = decode(out / "presentation.mkv")
    assert slides.video >= 5 and slides.numbers

    events = events_of(out / "events.jsonl")
    kinds = names(events)
    assert kinds[0] == "roster" and kinds[-1] == "recording_end"
    assert "message_received" in kinds
    assert kinds.index("presentation_start") < kinds.index("presentation_stop")
    chat = next(e for e in events if e["event"] == "message_received")
    assert chat["data"]["payload"] == "hello from the sender"
    files = {e["role"]: e["t"] for e in events if e["event"] == "file_start"}
    start = next(e["t"] for e in events if e["event"] == "presentation_start")
    # the presentation file starts on the shared clock, just after presentation_start
    assert files["main"] < 1.0 and start <= files["presentation"] < start + 3.0
    assert all(-5.0 < e["t"] < 12.0 for e in events)  # all on the recording clock


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_record_separate_emulator_signal_finalises_and_releases(
    tmp_path: Path, sig: signal.Signals
) -> None:
    config = write_config(tmp_path / "emu.json", [{"aliases": ["meet"], "host_pin": PIN}])
    out = tmp_path / "rec"
    async with emulator_process(config) as url:
        async with sender(url, "meet", pin=PIN):
            # the PIN comes from the environment: every option can
            # DEBUG logs too must keep the PIN and tokens out
            proc = await spawn(
                "record", "--node", url, "--alias", "meet", "--out", str(out),
                env=clean_env(PEXBOT_PIN=PIN, PEXBOT_LOG_LEVEL="DEBUG"),
            )  # fmt: skip
            for _ in range(600):
                if (out / "main.mkv").exists():
                    break
                await asyncio.sleep(0.05)
            assert (out / "main.mkv").exists(), "no recording started"
            await asyncio.sleep(2.5)
            proc.send_signal(sig)
            done = await finish(proc, 30)
            records = await traffic(url)
    check_clean_stop(done, out, sig.name)
    recorder = next(
        r for r in endpoint_calls(records, "request_token")
        if r["request_json"]["display_name"] == "pexbot"
    )  # fmt: skip
    uuid = recorder["response_json"]["result"]["participant_uuid"]
    released = endpoint_calls(records, "release_token")
    assert len(released) == 1  # the recorder's; the sender was still in
    order = [r["path"] for r in records if uuid in r["path"] or r in released]
    assert order[-1].endswith("/release_token")
    assert any(p.endswith("/disconnect") and "/calls/" in p for p in order)
    # The tokens themselves are checked in test_cli_secrets.py, which sees them as issued (the
    # traffic log redacts them, so it cannot tell them here).
    written = done.stdout + done.stderr + (out / "events.jsonl").read_text()
    assert PIN not in written


def check_clean_stop(done: Done, out: Path, signal_name: str = "SIGINT") -> None:
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{signal_name}: stopping" in done.stderr
    assert "recorded" in done.stdout and "(stopped)" in done.stdout
    main = decode(out / "main.mkv")
    assert main.duration > 1.5
    assert main.video > 10 and main.audio > 50
    events = names(events_of(out / "events.jsonl"))
    assert events[0] == "roster" and events[-1] == "recording_end"


async def test_record_out_is_a_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = await finish(await spawn("record", "--out", str(blocker), "--duration", "1"))
    assert_one_line_error(done, "--out", "not a directory")
