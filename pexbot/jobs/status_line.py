"""Live status for long-running jobs, on stderr: one line redrawn in place on a terminal, or
on a pipe (a log, a test) a plain line now and then.

The formatting helpers are pure; :class:`StatusLine` does the writing and decides when.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TextIO

_CLEAR_TO_END = "\x1b[K"


class StatusLine:
    """Shows the latest status text.

    On a terminal each :meth:`show` redraws the line (at most every ``tty_every`` seconds); on
    anything else a line is written when ``pipe_every`` seconds passed since the last one, so
    logs stay short. ``header`` (a table heading) is written once before the first line.
    :meth:`close` ends the line on a terminal and, on a pipe, writes the last status if it was
    not written yet.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        header: str | None = None,
        tty_every: float = 0.25,
        pipe_every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.tty = _isatty(stream) if tty is None else tty
        self._header = header
        self._every = tty_every if self.tty else pipe_every
        self._clock = clock
        self._last_at: float | None = None
        self._pending: str | None = None
        self._drawn = False
        self._closed = False

    def show(self, text: str) -> None:
        if self._closed:
            return
        now = self._clock()
        if self._last_at is not None and now - self._last_at < self._every:
            self._pending = text
            return
        self._write(text)
        self._last_at = now

    def _write(self, text: str) -> None:
        if self._header is not None:
            self._stream.write(self._header + "\n")
            self._header = None
        if self.tty:
            self._stream.write("\r" + text + _CLEAR_TO_END)
            self._drawn = True
        else:
            self._stream.write(text + "\n")
        self._pending = None
        self._stream.flush()

    def close(self) -> None:
        if self._closed:
            return
        if self._pending is not None:
            self._write(self._pending)
        if self.tty and self._drawn:
            self._stream.write("\n")
            self._stream.flush()
        self._closed = True


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def clock_text(seconds: float) -> str:
    """``mm:ss``, or ``h:mm:ss`` from an hour on."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bitrate_text(bps: float | None) -> str:
    if bps is None:
        return "-"
    if bps >= 1e6:
        return f"{bps / 1e6:.2f} Mbit/s"
    return f"{bps / 1e3:.0f} kbit/s"


def record_status(
    elapsed: float, rx_bps: float | None, participants: int, roles: Sequence[str]
) -> str:
    people = f"{participants} participant{'s' if participants != 1 else ''}"
    files = "+".join(roles) if roles else "waiting for media"
    return f"recording {clock_text(elapsed)}  {bitrate_text(rx_bps)}  {people}  {files}"


LOAD_HEADER = f"{'elapsed':>8} {'started':>9} {'joined':>7} {'media':>7} {'failed':>7} {'left':>6}"


def load_row(
    elapsed: float, *, target: int, started: int, joined: int, media: int, failed: int, left: int
) -> str:
    """One row of the load progress table (see :data:`LOAD_HEADER`)."""
    return (
        f"{clock_text(elapsed):>8} {f'{started}/{target}':>9} {joined:>7} {media:>7} "
        f"{failed:>7} {left:>6}"
    )
