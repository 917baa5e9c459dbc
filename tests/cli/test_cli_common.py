"""pexbot.cli.common in-process: PEXBOT_* variables, TLS settings, one-line errors, signals,
the embedded target."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import ssl
from pathlib import Path

import pytest

from media.mux import RecordingError
from pexbot.cli import build_parser, parse_command_line
from pexbot.cli.common import error_line, join_target, stop_on_signals, tls_setting
from pexbot.errors import ConfigError, InvalidPin, TransportError


def parse(argv: list[str], **env: str) -> argparse.Namespace:
    return parse_command_line(argv, env)


def test_every_option_reads_its_environment_variable() -> None:
    args = parse(
        ["probe"],
        PEXBOT_NODE="https://node.example",
        PEXBOT_ALIAS="meet",
        PEXBOT_PIN="1234",
        PEXBOT_DURATION="2.5",
        PEXBOT_INSECURE="yes",
        PEXBOT_MIN_FPS="12",
        PEXBOT_LOG_LEVEL="DEBUG",
        PEXBOT_METRICS_PORT="0",
    )
    assert (args.node, args.alias, args.pin) == ("https://node.example", "meet", "1234")
    assert args.duration == 2.5 and args.insecure is True and args.min_fps == 12.0
    assert args.log_level == "DEBUG" and args.metrics_port == 0
    # the command line wins; a false flag value keeps the default
    args = parse(["probe", "--duration", "7"], PEXBOT_DURATION="2.5", PEXBOT_JSON="0")
    assert args.duration == 7.0 and args.json is False
    # required options may come from the environment
    args = parse(["load"], PEXBOT_BOTS="4", PEXBOT_MEDIA="none")
    assert args.bots == 4 and args.media == "none"
    assert parse(["record"], PEXBOT_OUT="/tmp/x").out == "/tmp/x"


def test_bad_environment_values_stop_only_their_command() -> None:
    with pytest.raises(ConfigError, match="PEXBOT_DURATION: 'soon' is not a valid float"):
        parse(["probe"], PEXBOT_DURATION="soon")
    with pytest.raises(ConfigError, match="PEXBOT_JSON: 'maybe' is not a yes/no value"):
        parse(["record", "--out", "x"], PEXBOT_JSON="maybe")
    with pytest.raises(ConfigError, match="PEXBOT_LOG_LEVEL: 'LOUD' is not one of DEBUG"):
        parse(["emulator"], PEXBOT_LOG_LEVEL="LOUD")
    # PEXBOT_MEDIA=audio suits load, not the emulator (whose --media means something else)
    assert parse(["load", "--bots", "1"], PEXBOT_MEDIA="audio").media == "audio"
    with pytest.raises(ConfigError, match="PEXBOT_MEDIA: 'audio' is not one of compose"):
        parse(["emulator"], PEXBOT_MEDIA="audio")
    with pytest.raises(ConfigError) as caught:
        parse(["probe"], PEXBOT_MAX_FREEZES="x1234")
    assert str(caught.value) == "PEXBOT_MAX_FREEZES: 'x1234' is not a valid int"


def test_help_names_the_variables() -> None:
    out = io.StringIO()
    parser = build_parser({})
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["probe"].print_help(out)
    assert "[PEXBOT_NODE]" in out.getvalue() and "[PEXBOT_MIN_FPS]" in out.getvalue()


def namespace(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "node": None, "alias": None, "name": "bot", "pin": None, "direct_media": False,
        "ca_file": None, "insecure": False,
    }  # fmt: skip
    base.update(kw)
    return argparse.Namespace(**base)


def test_tls_settings(tmp_path: Path) -> None:
    assert tls_setting(namespace()) is True
    warned = io.StringIO()
    assert tls_setting(namespace(insecure=True), warn=warned) is False
    assert "not verified" in warned.getvalue()
    with pytest.raises(ConfigError, match="no such file"):
        tls_setting(namespace(ca_file=str(tmp_path / "missing.pem")))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match="not usable as CA certificates"):
        tls_setting(namespace(ca_file=str(junk)))
    with pytest.raises(ConfigError, match="contradict"):
        tls_setting(namespace(ca_file=str(junk), insecure=True))
    certifi_like = ssl.get_default_verify_paths().cafile
    if certifi_like and Path(certifi_like).exists():
        assert isinstance(tls_setting(namespace(ca_file=certifi_like)), ssl.SSLContext)


def test_error_lines_are_one_line() -> None:
    assert error_line(InvalidPin()) == "pexbot: the PIN was not accepted"
    assert error_line(TransportError("a\nb")) == "pexbot: a b"
    assert (
        error_line(FileNotFoundError(2, "No such file", "x.pem")) == "pexbot: x.pem: No such file"
    )
    assert error_line(RecordingError("disk full")) == "pexbot: disk full"
    group = ExceptionGroup("tasks", [InvalidPin()])
    assert error_line(group) == "pexbot: the PIN was not accepted"
    assert error_line(KeyError("k")).startswith("pexbot: internal error: KeyError: 'k'")


async def test_first_signal_stops_second_cancels() -> None:
    async def job() -> str:
        async with stop_on_signals(quiet=True) as stop:
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.wait_for(stop.wait(), 5)
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(5)
            return "not cancelled"

    task = asyncio.get_running_loop().create_task(job())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers removed


async def test_embedded_target_and_node_target(capsys: pytest.CaptureFixture[str]) -> None:
    async with join_target(namespace(pin="918273645")) as target:
        assert target.embedded and target.alias == "demo" and target.node.startswith("http://")
        assert "918273645" not in repr(target)
    assert "in-process emulator at http://127.0.0.1:" in capsys.readouterr().err
    async with join_target(namespace(), embedded_alias="test_call") as target:
        assert target.alias == "test_call"
    async with join_target(namespace(node="https://n.example", alias="meet")) as target:
        assert (target.node, target.alias, target.embedded) == ("https://n.example", "meet", False)
    with pytest.raises(ConfigError, match="--alias is required"):
        async with join_target(namespace(node="https://n.example")):
            pass


@pytest.mark.parametrize("given", ["debug", "DEBUG", "Debug", " info "])
def test_log_level_takes_any_case(given: str) -> None:
    top = parse_command_line(["--log-level", given, "join"], {})
    assert top.log_level == given.strip().upper()
    sub = parse_command_line(["join", "--log-level", given], {})
    assert sub.log_level == given.strip().upper()
    from_env = parse_command_line(["join"], {"PEXBOT_LOG_LEVEL": given})
    assert from_env.log_level == given.strip().upper()


def test_log_level_still_refuses_what_is_no_level(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_command_line(["join", "--log-level", "loud"], {})
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="PEXBOT_LOG_LEVEL"):
        parse_command_line(["join"], {"PEXBOT_LOG_LEVEL": "loud"})
