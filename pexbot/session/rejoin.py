"""Joining again after the node was lost: a policy (:class:`RejoinPolicy`) and the loop
(:class:`Rejoiner`) that runs one piece of work over successive sessions.

::

    rejoiner = Rejoiner(lambda: Session(node, alias, rejoin=RejoinPolicy(attempts=5)))
    result = await rejoiner.run(work, stop=stop)    # work(session) -> result, once per join

Why this layer: a re-join is a new participant (a new ``request_token``, a new token, a new
call), so it cannot happen inside one :class:`Session`, whose lifetime ends at
``release_token``; and it is not the CLI's business either, since a library user wants it too.
It sits above ``Session`` in the session layer: it builds sessions, the jobs say what to do in
each (the record job feeds every call's tracks into the one recorder it keeps open).

What counts as the node being lost (:func:`node_lost`): the session ended by itself because the
event stream could not be kept up or re-opened, or the token was lost (refused on refresh,
expired while the node was unreachable): what a node that stopped, or stopped and started
again without our participant, looks like. A ``disconnect`` from the node (a host removed us,
the conference ended) is the node's decision and is not undone; neither is the application
closing the session (its ``work`` returned first) nor a refused re-join (a PIN now wrong).

Noticing. A node that stops closes the event stream at once; the reader reconnects with
backoff (0.1 s doubling, 8 attempts, about 13 s in all, ±20 %). A node still gone after that,
or back without our participant (its 403 on the stream twice, or on ``refresh_token``), ends
the session: so the loss is noticed within about 16 s of the node going, sooner when it comes
back. Then re-joins are tried ``attempts`` times with capped exponential backoff; ``stop``
ends the waiting at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pexbot.errors import JoinRefused, PexbotError
from pexbot.signalling.retry import RejoinPolicy

from .session import Session

__all__ = ["Gap", "RejoinPolicy", "Rejoiner", "describe", "node_lost"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# How the session words its own endings when the node went away (pexbot.events.stream and
# pexbot.signalling.token); pinned by tests/session/test_rejoin.py.
_LOST_PREFIXES = ("event stream ", "token refused on refresh", "token expired")


def node_lost(reason: str | None) -> bool:
    """Whether a session that ended with ``reason`` lost its node (worth joining again)."""
    return reason is not None and reason.startswith(_LOST_PREFIXES)


@dataclass(frozen=True)
class Gap:
    """One loss and re-join, on the monotonic clock: the node was last heard of at
    ``left_at`` (the event stream dropped), the loss noticed at ``noticed_at`` (the session
    ended), joined again at ``back_at``."""

    left_at: float
    noticed_at: float
    back_at: float
    reason: str
    attempts: int


@dataclass
class _Watch:
    """The last time the event stream dropped in one session."""

    lost_at: float | None = None


@dataclass
class Rejoiner(Generic[T]):
    """Runs ``work`` in a session from ``factory``, and in a new one after each loss.

    The first join is not retried: its failures (a wrong PIN, no such conference, the node
    unreachable) propagate. The policy is the first session's ``rejoin`` (None: never rejoin).
    ``on_gap`` is called once each re-join succeeded, before ``work`` runs in it.
    """

    factory: Callable[[], Session]
    on_gap: Callable[[Gap], None] | None = None
    clock: Callable[[], float] = time.monotonic
    #: every loss that was joined again
    gaps: list[Gap] = field(default_factory=list)
    #: why re-joining stopped (None: it never had to give up)
    gave_up: str | None = None
    #: the session ``work`` runs in now
    session: Session | None = None

    async def run(
        self, work: Callable[[Session], Awaitable[T]], *, stop: asyncio.Event | None = None
    ) -> T:
        session = self.factory()
        policy: RejoinPolicy | None = session.rejoin
        await session.open()
        while True:
            watch = _Watch()
            self.session = session
            # Opened already (here or in _join_again): close it on every way out.
            try:
                session.on("stream_lost", functools.partial(_mark, watch, self.clock))
                result = await work(session)
                # Ending already, before we close it: the node or a task ended it (``ended``
                # comes later, after the call closed and the token was released).
                ended_itself = session.end_reason is not None
            finally:
                await session.close()
            reason = session.end_reason
            if policy is None or not ended_itself or not node_lost(reason):
                return result
            assert reason is not None
            noticed_at = self.clock()
            left_at = watch.lost_at if watch.lost_at is not None else noticed_at
            log.warning("node lost (%s); joining again", reason)
            joined = await self._join_again(policy, reason, stop)
            if joined is None:
                return result
            session, attempts = joined
            gap = Gap(left_at, noticed_at, self.clock(), reason, attempts)
            self.gaps.append(gap)
            log.warning("joined again after %.1f s (%d attempts)", gap.back_at - left_at, attempts)
            if self.on_gap is not None:
                self.on_gap(gap)

    async def _join_again(
        self, policy: RejoinPolicy, reason: str, stop: asyncio.Event | None
    ) -> tuple[Session, int] | None:
        backoff = policy.backoff()
        last = ""
        for attempt in range(1, policy.attempts + 1):
            if await _stopped_within(backoff.next_delay(), stop):
                self.gave_up = f"stopped while joining again after: {reason}"
                return None
            session = self.factory()
            try:
                await session.open()
            except JoinRefused as exc:
                self.gave_up = f"joining again was refused: {exc}"
                return None
            except PexbotError as exc:
                last = str(exc)
                log.info("re-join %d of %d failed: %s", attempt, policy.attempts, last)
                continue
            return session, attempt
        self.gave_up = f"{policy.attempts} re-joins failed (last: {last})"
        return None


def _mark(watch: _Watch, clock: Callable[[], float], _event: object) -> None:
    watch.lost_at = clock()


async def _stopped_within(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep ``seconds``; True at once if ``stop`` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return False
    return True


def describe(gap: Gap, t0: float | None = None) -> dict[str, Any]:
    """``gap`` as a JSON record; times on a clock whose zero is ``t0`` (monotonic) if given."""
    zero = t0 or 0.0
    return {
        "event": "rejoined",
        "left_at": round(gap.left_at - zero, 3),
        "noticed_at": round(gap.noticed_at - zero, 3),
        "back_at": round(gap.back_at - zero, 3),
        "reason": gap.reason,
        "attempts": gap.attempts,
    }
