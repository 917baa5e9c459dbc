"""The task that watches a live media call: samples, recovers, reports.

Every ``tick`` (0.5 s) it feeds the call's :class:`~pexbot.rtc.restart.RecoveryPolicy` with the
current connection's ICE state and the inbound packet count, and starts a restart or gives up
when the policy says so. In direct media it also repairs a slides line left contradicting the
floor by offers that crossed while it moved (``call.slides_unsettled()`` for ``SETTLE_AFTER``:
long enough for the far end's own offer, usually the repair, to arrive first).

Every second it samples statistics (``call.stats()``); every
``stats_interval`` it posts them to the node (``calls/<uuid>/statistics``), when the call posts
statistics at all (direct media, by default).

Nothing it does may end the loop but the call closing: failed restarts count as failed
attempts, failed posts are logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from pexbot import wire
from pexbot.errors import PexbotError
from pexbot.rtc.peer import Peer
from pexbot.rtc.raw_stats import RawStream, StreamName
from pexbot.rtc.restart import RecoveryPolicy, Verdict
from pexbot.rtc.sdp import MediaRole

from .media import CallMedia
from .options import CallOptions
from .signalling import CallState
from .stats import CallStats, StatsTracker

log = logging.getLogger(__name__)

StatisticsPoster = Callable[[str, wire.StatisticsBody], Awaitable[None]]
TICK = 0.5
STATS_EVERY = 1.0
POST_TIMEOUT = 5.0
#: a contradicting slides line is renegotiated after this long (and given this long to settle)
SETTLE_AFTER = 0.75
SETTLE_TIMEOUT = 15.0


class SupervisedCall(Protocol):
    """What the supervisor watches and acts on (:class:`~pexbot.call.MediaCall` is one)."""

    @property
    def call_uuid(self) -> str | None: ...
    @property
    def current_peer(self) -> Peer | None: ...
    @property
    def state(self) -> CallState: ...
    @property
    def roles(self) -> list[MediaRole]: ...
    @property
    def options(self) -> CallOptions: ...
    @property
    def media(self) -> CallMedia: ...
    @property
    def policy(self) -> RecoveryPolicy: ...
    @property
    def waiting_for_peer(self) -> bool: ...
    @property
    def media_rejected(self) -> bool: ...
    @property
    def restarts(self) -> int: ...

    async def restart(self, reason: str = "requested") -> bool: ...
    def give_up(self, reason: str) -> None: ...
    def slides_unsettled(self) -> bool: ...
    async def settle_slides(self) -> None: ...


class CallSupervisor:
    """Owned by a :class:`~pexbot.call.MediaCall`, which starts and stops it; owns the
    statistics it samples (:attr:`tracker`)."""

    def __init__(
        self,
        call: SupervisedCall,
        *,
        post: StatisticsPoster | None = None,
        stats_interval: float | None = None,
        tick: float = TICK,
    ) -> None:
        self._call = call
        self._post = post
        self.stats_interval = stats_interval
        self._tick = tick
        self.tracker = StatsTracker()
        self._next_stats = 0.0
        self._next_post: float | None = None
        self._unsettled_since: float | None = None
        #: slides renegotiations the supervisor made
        self.settled = 0
        #: statistics posted so far (and failed posts)
        self.posted = 0
        self.post_failures = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Watch in a task of its own, until :meth:`stop` (or the call gives up)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"pexbot-call-supervisor-{self._call.call_uuid}"
            )

    async def stop(self) -> None:
        """Cancel the watch and wait for it to end (from inside it: only forget it)."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task})  # (suppressing CancelledError would eat ours)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            now = time.monotonic()
            if await self._recover(now):
                return
            await self._settle(now)
            if now >= self._next_stats:
                self._next_stats = now + STATS_EVERY
                await self.sample(now)
            await self._maybe_post(now)

    async def _recover(self, now: float) -> bool:
        """One policy step; True when the call gave up."""
        call = self._call
        peer = call.current_peer
        policy = call.policy
        if peer is None or call.waiting_for_peer or call.media_rejected:
            return False
        policy.observe(now, ice_state=peer.ice_state, packets_in=call.media.packets_in())
        verdict = policy.verdict(now)
        if verdict is Verdict.GIVE_UP:
            call.give_up(f"media connection failed ({policy.reason})")
            return True
        if verdict is Verdict.RESTART:
            try:
                done = await call.restart(policy.reason)
            except PexbotError as exc:
                log.warning("call %s: restart failed: %s", call.call_uuid, exc)
                done = False
            if not done:
                policy.attempt_failed(time.monotonic())
        return False

    async def _settle(self, now: float) -> None:
        call = self._call
        if not call.slides_unsettled():
            self._unsettled_since = None
            return
        if self._unsettled_since is None:
            self._unsettled_since = now
        if now - self._unsettled_since < SETTLE_AFTER:
            return
        self._unsettled_since = None
        log.info("call %s: slides line contradicts the floor; renegotiating", call.call_uuid)
        self.settled += 1
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT):
                await call.settle_slides()
        except (PexbotError, TimeoutError) as exc:
            log.warning("call %s: slides not renegotiated: %s", call.call_uuid, exc)

    async def sample(self, now: float) -> CallStats:
        """Sample statistics now (also what ``call.stats()`` returns from then on)."""
        call = self._call
        peer = call.current_peer
        raw: dict[StreamName, RawStream] = {}
        for role in call.roles:
            tx = RawStream()
            if peer is not None and not peer.closed:
                try:
                    tx = await peer.tx_stats(role)
                except Exception as exc:  # a connection closing under us
                    log.debug("sender statistics unavailable: %r", exc)
            raw[call.media.stream_of(role)] = call.media.raw(role, tx)
        return self.tracker.update(
            now,
            raw,
            call_uuid=call.call_uuid,
            direct_media=call.options.direct_media,
            connection_state=call.state,
            restarts=call.restarts,
        )

    def set_interval(self, seconds: float | None) -> None:
        self.stats_interval = seconds
        self._next_post = None

    async def _maybe_post(self, now: float) -> None:
        interval = self.stats_interval
        call = self._call
        if self._post is None or interval is None or call.call_uuid is None:
            return
        if self._next_post is None:
            self._next_post = now + interval
            return
        if now < self._next_post:
            return
        self._next_post = now + interval
        body = self.tracker.latest.to_wire()
        if body.audio is None and body.video is None and body.presentation is None:
            return  # nothing flowed: nothing to tell
        try:
            async with asyncio.timeout(POST_TIMEOUT):
                await self._post(call.call_uuid, body)
            self.posted += 1
        except (PexbotError, TimeoutError) as exc:
            self.post_failures += 1
            log.warning("call %s: statistics not posted: %s", call.call_uuid, exc)
