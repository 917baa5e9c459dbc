"""``pexbot join``: join a conference, print the roster, then every event, one per line.

With no ``--node`` an emulator is started in-process with a demo conference, so the command
works offline. Stops after ``--duration`` seconds, at Ctrl-C, or when the node ends the
session (that last event is printed too). ``--json`` prints JSON lines instead of text.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import enum
import json
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

from pydantic import BaseModel

from ..events import Event, ParticipantCreated, ParticipantUpdated, name_of
from ..session import Session
from ..wire import Participant

DEMO_ALIAS = "demo"


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "join",
        help="join a conference and print its roster and events",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--node", help="node base URL (default: an in-process emulator)")
    parser.add_argument("--alias", help=f"conference alias (default with no --node: {DEMO_ALIAS})")
    parser.add_argument("--name", default="pexbot", help="display name (default: pexbot)")
    parser.add_argument("--pin", help="PIN; 'none' joins as a guest where only a host PIN exists")
    parser.add_argument("--duration", type=float, help="leave after this many seconds")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the node's TLS certificate"
    )
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    if args.node is None:
        async with _demo_node() as base_url:
            return await _join(base_url, args.alias or DEMO_ALIAS, args, stream)
    if not args.alias:
        print("pexbot: --alias is required with --node", file=sys.stderr)
        return 2
    return await _join(args.node, args.alias, args, stream)


@contextlib.asynccontextmanager
async def _demo_node() -> AsyncIterator[str]:
    from ..emulator import Emulator, EmulatorConfig
    from ..emulator.config import ConferenceConfig

    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[DEMO_ALIAS], name="Demo")])
    async with Emulator(config, port=0) as emu:
        yield str(emu.base_url)


async def _join(node: str, alias: str, args: argparse.Namespace, out: TextIO) -> int:
    printer = JsonPrinter(out) if args.json else TextPrinter(out)
    async with Session(
        node, alias, display_name=args.name, pin=args.pin, verify_tls=not args.insecure
    ) as session:
        events = session.events()
        printer.joined(session)
        with contextlib.suppress(TimeoutError):
            async with _deadline(args.duration):
                async for event in events:
                    printer.event(event)
    return 0


@contextlib.asynccontextmanager
async def _deadline(seconds: float | None) -> AsyncIterator[None]:
    async with asyncio.timeout(seconds):
        yield


class TextPrinter:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def _line(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def joined(self, session: Session) -> None:
        info = session.info
        roster = session.state.roster
        self._line(
            f"joined {session.transport.alias} ({info.conference_name or '-'}) as "
            f"{info.display_name}, {info.role}, participant {info.participant_uuid}"
        )
        self._line(f"roster: {len(roster)} participant{'s' if len(roster) != 1 else ''}")
        for p in roster.values():
            self._line(f"  {_who(p)}")

    def event(self, event: Event) -> None:
        self._line(f"{name_of(event)} {describe(event)}".rstrip())


class JsonPrinter:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def _line(self, data: dict[str, Any]) -> None:
        print(json.dumps(data, separators=(",", ":")), file=self._out, flush=True)

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
    return f"{p.display_name} ({p.role}, {p.uuid})"


def describe(event: Event) -> str:
    """The event's fields as ``key=value`` (participants as name, role and uuid)."""
    if isinstance(event, ParticipantCreated | ParticipantUpdated):
        return _who(event.participant)
    parts = []
    for field in _public_fields(event):
        value = getattr(event, field.name)
        if isinstance(value, BaseModel):
            value = _dump(value)
        parts.append(
            f"{field.name}={value!r}" if isinstance(value, str) else f"{field.name}={value}"
        )
    return " ".join(parts)


def jsonable(value: Any) -> Any:
    """JSON-ready form of events and wire models; fields kept out of repr (secrets) are left
    out here too."""
    if isinstance(value, BaseModel):
        return _dump(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in _public_fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _dump(model: BaseModel) -> dict[str, Any]:
    hidden = {name for name, field in type(model).model_fields.items() if not field.repr}
    return model.model_dump(mode="json", exclude_none=True, exclude=hidden)


def _public_fields(value: Any) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(value) if f.repr]
