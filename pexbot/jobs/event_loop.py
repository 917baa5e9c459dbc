"""Which asyncio event loop a job runs on: ``--loop auto|asyncio|uvloop``.

uvloop (libuv underneath) makes each wake-up, timer and datagram cheaper than asyncio's own
loop; a load bot or a forwarding emulator handles thousands of packets a second, so it pays
~20 % less CPU there (measured in benchmarks/README.md). It is an optional dependency (the
``load`` extra); ``auto`` uses it when it is installed, as uvicorn does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from pexbot.errors import ConfigError

LoopName = Literal["auto", "asyncio", "uvloop"]
LOOPS: tuple[LoopName, ...] = ("auto", "asyncio", "uvloop")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(name: str) -> LoopFactory | None:
    """The event loop maker ``name`` stands for (None: asyncio's own)."""
    if name not in LOOPS:
        raise ConfigError(f"unknown event loop {name!r}: one of {', '.join(LOOPS)}")
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise ConfigError("--loop uvloop needs uvloop: pip install 'pexbot[load]'") from None
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_in_use() -> str:
    """The running loop's kind, for reports: ``uvloop`` or ``asyncio``."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


__all__ = ["LOOPS", "LoopName", "loop_factory", "loop_in_use"]
