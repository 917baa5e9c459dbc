"""terminal_safe and the log formatter alone."""

from __future__ import annotations

import logging

from pexbot.cli.terminal import SafeFormatter, terminal_safe


def test_controls_are_escaped_and_long_text_cut() -> None:
    assert terminal_safe("a\x1b[31mb\nc\td\x7f\u202ee") == "a\\x1b[31mb\\x0ac\\x09d\\x7f\\u202ee"
    assert terminal_safe("x" * 10, 4) == "xxxx... (6 more characters)"
    assert terminal_safe("Zoë 会议 🎥") == "Zoë 会议 🎥"  # printable text is left alone


def test_log_messages_cannot_forge_lines() -> None:
    record = logging.LogRecord("pexbot", logging.INFO, __file__, 1, "joined %s", ("a\nFAKE",), None)
    line = SafeFormatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO joined a\\x0aFAKE"
