"""Text from the network, made safe to show on a terminal or in a log line.

Display names, chat, conference names and the node's reasons come from whoever is in the
conference. Shown raw, an ANSI escape could repaint the screen, a line break could forge a log
line, a bidi override could reorder what a reader sees, and megabytes could flood it. So every
such character is shown as an escape (``\\x1b``), and long text is cut with a count of what was
left out. The status line's own redraw codes are written by us, after this, and stay intact.
"""

from __future__ import annotations

import logging
import re

#: C0 and C1 controls (line breaks and tabs included: every field shown is one line), DEL,
#: the Unicode line separators and the bidi embedding, override and isolate controls.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
FIELD_LIMIT = 300
LOG_LIMIT = 4000


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, limit: int = FIELD_LIMIT) -> str:
    """``text`` with control characters escaped, cut to ``limit`` characters."""
    shown = _UNSAFE.sub(_escape, text[:limit])
    if len(text) > limit:
        shown += f"... ({len(text) - limit} more characters)"
    return shown


class SafeFormatter(logging.Formatter):
    """A log formatter whose messages cannot carry control characters or floods."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = terminal_safe(record.message, LOG_LIMIT)
        return super().formatMessage(record)
