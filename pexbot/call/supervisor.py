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
from typing import TYPE_CHECKING

from pexbot import wire
from pexbot.errors import PexbotError
from pexbot.rtc.raw_stats import RawStream, StreamName
from pexbot.rtc.restart import Verdict

from .stats import CallStats

if TYPE_CHECKING:
    from .media_call import MediaCall

log = logging.getLogger(__name__)

StatisticsPoster = Callable[[str, wire.StatisticsBody], Awaitable[None]]
TICK = 0.5
STATS_EVERY = 1.0
POST_TIMEOUT = 5.0
#: a contradicting slides line is renegotiated after this long (and given this long to settle)
SETTLE_AFTER = 0.75
SETTLE_TIMEOUT = 15.0


class CallSupervisor:
    """Owned by a :class:`~pexbot.call.MediaCall`, which runs :meth:`run` in a task."""

    def __init__(
        self,
        call: MediaCall,
        *,
        post: StatisticsPoster | None = None,
        stats_interval: float | None = None,
        tick: float = TICK,
    ) -> None:
        self._call = call
        self._post = post
        self.stats_interval = stats_interval
        self._tick = tick
        self._next_stats = 0.0
        self._next_post: float | None = None
        self._unsettled_since: float | None = None
        #: slides renegotiations the supervisor made
        self.settled = 0
        #: statistics posted so far (and failed posts)
        self.posted = 0
        self.post_failures = 0

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
        return call.tracker.update(
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
        body = call.tracker.latest.to_wire()
        if body.audio is None and body.video is None and body.presentation is None:
            return  # nothing flowed: nothing to tell
        try:
            async with asyncio.timeout(POST_TIMEOUT):
                await self._post(call.call_uuid, body)
            self.posted += 1
        except (PexbotError, TimeoutError) as exc:
            self.post_failures += 1
            log.warning("call %s: statistics not posted: %s", call.call_uuid, exc)
