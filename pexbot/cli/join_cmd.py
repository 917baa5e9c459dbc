"""``pexbot join``: join a conference, print the roster, then every event, one per line.

With no ``--node`` an emulator is started in-process with a demo conference, so the command
works offline. Stops after ``--duration`` seconds, at Ctrl-C / SIGTERM, or when the node ends
the session (that last event is printed too); with ``--rejoin`` a lost node is joined again
(a ``rejoined`` line says after how long). ``--json`` prints JSON lines instead of text.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import time
from typing import Any, TextIO

from pydantic import BaseModel

from pexbot.events import Event, ParticipantCreated, ParticipantUpdated, name_of
from pexbot.jobs.event_log import jsonable
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.target import JoinTarget, until_end
from pexbot.session.rejoin import Gap, Rejoiner
from pexbot.session.rejoin import describe as describe_gap
from pexbot.session.session import Session
from pexbot.wire import Participant

from .common import (
    add_join_options,
    add_rejoin_option,
    add_run_options,
    description,
    join_target,
    metrics_server,
    stop_on_signals,
)
from .terminal import terminal_safe


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "join",
        help="join a conference and print its roster and events",
        description=description(__doc__),
    )
    add_join_options(parser)
    add_rejoin_option(parser)
    add_run_options(parser, duration=None, duration_help="leave after SECONDS (default: Ctrl-C)")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    printer: TextPrinter | JsonPrinter = JsonPrinter(stream) if args.json else TextPrinter(stream)
    registry = MetricsRegistry()
    registry.describe("pexbot_bots_joined", "bots in the conference")
    registry.describe("pexbot_participants", "participants in the roster")
    async with (
        stop_on_signals() as stop,
        join_target(args) as target,
        metrics_server(args, registry),
    ):
        await _join(target, args.duration, printer, stop, registry)
    return 0


async def _join(
    target: JoinTarget,
    duration: float | None,
    printer: TextPrinter | JsonPrinter,
    stop: asyncio.Event,
    registry: MetricsRegistry,
) -> None:
    reader_gone = asyncio.Event()
    began = time.monotonic()

    async def in_session(session: Session) -> None:
        def on_event(event: Event) -> None:
            if reader_gone.is_set():
                return
            try:
                printer.event(event)
            except BrokenPipeError:  # e.g. `pexbot join | head`: nobody reads any more
                reader_gone.set()
                printer.silence()
            registry.set("pexbot_participants", len(session.state.roster))

        # Subscribed and printed in one step: no event slips in between.
        subscription = session.on(None, on_event)
        printer.joined(session)
        registry.set("pexbot_bots_joined", 1)
        registry.set("pexbot_participants", len(session.state.roster))
        # --rejoin: the duration counts over every session.
        left = None if duration is None else max(0.0, duration - (time.monotonic() - began))
        try:
            await until_end(duration=left, stop=stop, ended=[session.ended, reader_gone])
        finally:
            # Leaving ourselves is not an event to print; the node ending the session is.
            subscription.unsubscribe()
            registry.set("pexbot_bots_joined", 0)

    rejoiner: Rejoiner[None] = Rejoiner(target.session, on_gap=printer.rejoined)
    await rejoiner.run(in_session, stop=stop)
    if rejoiner.gave_up is not None:
        printer.gave_up(rejoiner.gave_up)


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def silence(self) -> None:
        """The reader closed our stdout: point it at /dev/null, so that Python's last flush at
        exit does not complain about the line left in the buffer. Nothing is printed after."""
        if self._out is not sys.stdout:
            return
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, sys.stdout.fileno())
            finally:
                os.close(devnull)


class TextPrinter(_Printer):
    def _line(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def rejoined(self, gap: Gap) -> None:
        self._line(
            f"rejoined after {gap.back_at - gap.left_at:.1f} s ({gap.attempts} tries): "
            + terminal_safe(gap.reason, 300)
        )

    def gave_up(self, why: str) -> None:
        self._line("not rejoined: " + terminal_safe(why, 300))

    def joined(self, session: Session) -> None:
        info = session.info
        roster = session.state.roster
        self._line(
            f"joined {session.transport.alias} ({terminal_safe(info.conference_name or '-')}) as "
            f"{terminal_safe(info.display_name or '')}, {info.role}, "
            f"participant {info.participant_uuid}"
        )
        self._line(f"roster: {len(roster)} participant{'s' if len(roster) != 1 else ''}")
        for p in roster.values():
            self._line(f"  {_who(p)}")

    def event(self, event: Event) -> None:
        # Every field already went through terminal_safe or repr; the cut bounds the line.
        self._line(terminal_safe(f"{name_of(event)} {describe(event)}".rstrip(), 2000))


class JsonPrinter(_Printer):
    def _line(self, data: dict[str, Any]) -> None:
        print(json.dumps(data, separators=(",", ":")), file=self._out, flush=True)

    def rejoined(self, gap: Gap) -> None:
        self._line(describe_gap(gap))

    def gave_up(self, why: str) -> None:
        self._line({"event": "rejoin_failed", "reason": why})

    def joined(self, session: Session) -> None:
        info = session.info
        self._line(
            {
                "event": "joined",
                "alias": session.transport.alias,
                "conference_name": info.conference_name,
                "participant_uuid": info.participant_uuid,
                "role": info.role,
            }
        )
        roster = [jsonable(p) for p in session.state.roster.values()]
        self._line({"event": "roster", "participants": roster})

    def event(self, event: Event) -> None:
        self._line({"event": name_of(event), "data": jsonable(event)})


def _who(p: Participant) -> str:
    return f"{terminal_safe(p.display_name or '')} ({p.role}, {terminal_safe(p.uuid)})"


def describe(event: Event) -> str:
    """The event's fields as ``key=value`` (participants as name, role and uuid)."""
    if isinstance(event, ParticipantCreated | ParticipantUpdated):
        return _who(event.participant)
    parts = []
    for field in (f for f in dataclasses.fields(event) if f.repr):  # secrets stay out
        value = getattr(event, field.name)
        if isinstance(value, BaseModel):
            value = jsonable(value)
        parts.append(
            f"{field.name}={value!r}" if isinstance(value, str) else f"{field.name}={value}"
        )
    return " ".join(parts)
