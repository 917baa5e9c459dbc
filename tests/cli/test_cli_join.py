"""``pexbot join``: against the in-process demo emulator, and its one-line errors."""

from __future__ import annotations

import json

import pytest

from pexbot.cli import main
from pexbot.cli.join_cmd import describe, jsonable
from pexbot.events import Refer


def test_join_demo_prints_roster_then_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "--duration", "1.5", "--name", "Printer"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the embedded default is the jobs' demo conference (pexbot.jobs.demo)
    assert lines[0].startswith("joined demo (pexbot demo) as Printer, HOST, participant ")
    # the demo conference may hold the emulator's built-in participants as well
    count = int(lines[1].split()[1])
    assert lines[1] == f"roster: {count} participant{'s' if count != 1 else ''}"
    roster = lines[2 : 2 + count]
    assert all(line.startswith("  ") for line in roster)
    assert sum(line.startswith("  Printer (chair, ") for line in roster) == 1
    names = [line.split(" ", 1)[0] for line in lines[2 + count :]]
    assert "conference_update" in names and "layout" in names
    assert "session_ended" not in names  # leaving at --duration is not an event


def test_join_demo_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "--duration", "1", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["event"] == "joined" and records[0]["role"] == "HOST"
    assert records[1]["event"] == "roster"
    assert [p["display_name"] for p in records[1]["participants"]].count("pexbot") == 1
    assert all("event" in r for r in records[2:])


def test_join_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "--node", "http://127.0.0.1:9", "--alias", "x", "--pin", "55667788"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pexbot: POST request_token to http://127.0.0.1:9")
    assert "55667788" not in captured.err + captured.out
    assert main(["join", "--node", "http://127.0.0.1:9"]) == 2  # --alias missing


def test_secrets_stay_out_of_printed_events() -> None:
    refer = Refer(alias="meet.bob", token="ONE-TIME-SECRET", breakout_name="Room 1")
    assert "ONE-TIME-SECRET" not in describe(refer)
    assert "ONE-TIME-SECRET" not in json.dumps(jsonable(refer))
    assert jsonable(refer) == {"alias": "meet.bob", "breakout_name": "Room 1", "target": None}
