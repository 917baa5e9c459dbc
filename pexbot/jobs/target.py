"""Where a job joins (:class:`JoinTarget`), when it stops (:func:`until_end`), and what it does
meanwhile every so often (:func:`every`).

Every job (record, probe, load) joins the same way and ends for the same reasons: its
``duration`` ran out, the application asked it to stop (a signal, in the CLI), or the node ended
the session (the conference ended, the bot was disconnected).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pexbot.session.rejoin import RejoinPolicy
from pexbot.session.session import Session

log = logging.getLogger(__name__)

EndReason = Literal["duration", "stopped", "ended"]


@dataclass(frozen=True)
class JoinTarget:
    """A conference on a node and how to join it; ``session()`` builds (unopened) sessions.

    ``embedded`` says the node is the in-process demo emulator (reports mention it).
    The PIN stays out of the repr.
    """

    node: str
    alias: str
    display_name: str = "pexbot"
    pin: str | None = field(default=None, repr=False)
    direct_media: bool = False
    verify_tls: bool | ssl.SSLContext = True
    embedded: bool = False
    #: join again after the node was lost (:mod:`pexbot.session.rejoin`); None: never
    rejoin: RejoinPolicy | None = None

    def session(self, *, display_name: str | None = None, **overrides: Any) -> Session:
        options: dict[str, Any] = {
            "display_name": display_name or self.display_name,
            "pin": self.pin,
            "direct_media": self.direct_media,
            "verify_tls": self.verify_tls,
            "rejoin": self.rejoin,
        }
        options.update(overrides)
        return Session(self.node, self.alias, **options)

    def with_alias(self, alias: str) -> JoinTarget:
        return replace(self, alias=alias)


async def until_end(
    *,
    duration: float | None,
    stop: asyncio.Event | None = None,
    ended: Sequence[asyncio.Event] = (),
) -> EndReason:
    """Wait until ``duration`` seconds passed, ``stop`` is set or one of ``ended`` is set.

    When several happen together the node's end wins over a stop, and a stop over the
    duration, so a report says the most telling reason.
    """
    waiters: dict[asyncio.Future[Any], EndReason] = {}
    if stop is not None:
        waiters[asyncio.ensure_future(stop.wait())] = "stopped"
    for event in ended:
        waiters[asyncio.ensure_future(event.wait())] = "ended"
    try:
        if waiters:
            await asyncio.wait(waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        elif duration is not None:
            await asyncio.sleep(duration)
        else:
            await asyncio.Event().wait()  # nothing can end it: wait for cancellation
    finally:
        for waiter in waiters:
            waiter.cancel()
    if any(event.is_set() for event in ended):
        return "ended"
    if stop is not None and stop.is_set():
        return "stopped"
    return "duration"


async def every(seconds: float, step: Callable[[], Awaitable[None]], *, what: str) -> None:
    """Run ``step`` every ``seconds`` until cancelled. A failing step is logged (the first of a
    run of failures with its traceback) and the next one still runs: a status update that
    fails once must not stop the updates."""
    failures = 0
    while True:
        await asyncio.sleep(seconds)
        try:
            await step()
        except Exception as exc:
            failures += 1
            if failures == 1:
                log.warning("%s failed", what, exc_info=exc)
        else:
            if failures > 1:
                log.info("%s works again after %d failures", what, failures)
            failures = 0
