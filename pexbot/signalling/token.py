"""Keeping the token alive: refresh every ``expires/3``, give up cleanly, always release.

``TokenSchedule`` is the pure part, fed ``now``: when the next refresh is due, when the token
has expired, how long to wait after a transient failure. ``TokenKeeper`` runs it on asyncio.

Policy (and where it deliberately differs from Pexip's own client):

- Refresh every ``expires/3`` seconds after the last success (the official schedule: every
  40 s for the usual 120 s token). A ``refresh_token`` server event asks for one refresh now.
- A transient failure (network, timeout, 5xx, a malformed answer) is retried with capped
  exponential backoff, never sooner than the backoff says, until the token's nominal expiry;
  then the session ends with "token expired".
- A 403 (or 404) on refresh means the token (or the conference) is gone: the session ends at
  once with the node's reason. The official client re-requests a 403 in a tight loop until
  expiry; we do not.
- ``release_token`` is sent exactly once, on every way out, cancellation included: a
  cancelled ``release`` still waits (a bounded time) for the request it started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pexbot import wire
from pexbot.errors import ApiError, ConferenceNotFound, Forbidden, PexbotError, SessionEnded
from pexbot.signalling.api.base import parse

from .backoff import Backoff
from .http import ApiTransport
from .retry import NO_RETRY

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class TokenSchedule:
    """When to refresh a token of lifetime ``expires`` seconds issued at ``now`` (pure)."""

    def __init__(self, expires: float, now: float, *, backoff: Backoff | None = None) -> None:
        if expires <= 0:
            raise ValueError(f"token lifetime must be > 0 s (got {expires})")
        self.expires = expires
        self.issued_at = now
        self.next_at = now + expires / 3
        self.backoff = backoff or Backoff(initial=0.2, maximum=30.0)
        self.failures = 0

    @property
    def interval(self) -> float:
        return self.expires / 3

    @property
    def expires_at(self) -> float:
        return self.issued_at + self.expires

    def delay(self, now: float) -> float:
        """Seconds until the next refresh attempt (0 when it is due)."""
        return max(0.0, self.next_at - now)

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def refresh_now(self, now: float) -> None:
        """The node asked for a refresh (``refresh_token`` event): make one due now."""
        self.next_at = min(self.next_at, now)

    def on_success(self, now: float, expires: float | None = None) -> None:
        """A refresh succeeded at ``now``; the new token lives ``expires`` (default: as before)."""
        if expires is not None and expires > 0:
            self.expires = expires
        self.issued_at = now
        self.next_at = now + self.expires / 3
        self.failures = 0
        self.backoff.reset()

    def on_failure(self, now: float) -> float:
        """A refresh failed transiently at ``now``: the delay before the next attempt.

        The delay comes from the backoff (never 0). Near expiry it is cut to half the time
        left, but never below the backoff's initial delay, so the last attempts still fall
        before expiry without ever spinning.
        """
        self.failures += 1
        wait = self.backoff.next_delay()
        left = self.expires_at - now
        if 0 < left < wait:
            wait = max(left / 2, self.backoff.initial)
        self.next_at = now + wait
        return wait


class TokenKeeper:
    """Holds the current token of one participant, refreshes it, and releases it.

    ``run()`` refreshes until cancelled, or raises ``SessionEnded`` when the token is lost.
    """

    def __init__(
        self,
        transport: ApiTransport,
        info: wire.RequestTokenResult,
        *,
        clock: Clock = time.monotonic,
        backoff: Backoff | None = None,
        release_timeout: float = 3.0,
        on_refreshed: Callable[[wire.RefreshTokenResult], None] | None = None,
    ) -> None:
        self._transport = transport
        self._token = info.token
        self._clock = clock
        self.schedule = TokenSchedule(info.expires_seconds, clock(), backoff=backoff)
        self._release_timeout = release_timeout
        self._on_refreshed = on_refreshed
        self._wake = asyncio.Event()
        self._released = False
        self._release_task: asyncio.Task[None] | None = None
        #: successful refreshes so far
        self.refreshes = 0
        #: why the token was lost (``None`` while it is alive)
        self.lost_reason: str | None = None

    def __repr__(self) -> str:
        state = "released" if self._released else self.lost_reason or "alive"
        return f"TokenKeeper({self._transport.origin!r}, refreshes={self.refreshes}, {state})"

    @property
    def token(self) -> str:
        """The current token; ``SessionEnded`` once it is released or lost."""
        if self._released:
            raise SessionEnded("the token was released")
        if self.lost_reason is not None:
            raise SessionEnded(self.lost_reason)
        return self._token

    @property
    def released(self) -> bool:
        return self._released

    def request_refresh(self) -> None:
        """Refresh as soon as possible (the ``refresh_token`` server event)."""
        self.schedule.refresh_now(self._clock())
        self._wake.set()

    async def run(self) -> None:
        """Refresh on schedule until cancelled; ``SessionEnded`` when the token is lost."""
        while not self._released:
            delay = self.schedule.delay(self._clock())
            if delay > 0:
                self._wake.clear()
                try:
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            await self._refresh_or_end()

    async def _refresh_or_end(self) -> None:
        # The new token's life is counted from when we asked: conservative for expiry, and
        # the schedule does not drift by the request's latency.
        asked_at = self._clock()
        try:
            # The schedule retries refresh itself (backoff until expiry): one send per attempt.
            raw = await self._transport.request(
                "POST", "refresh_token", token=self.token, retry=NO_RETRY
            )
            result = parse(wire.RefreshTokenResult, raw.result, "refresh_token")
        except SessionEnded:
            raise
        except (Forbidden, ConferenceNotFound) as exc:
            self._lose(f"token refused on refresh ({exc.status}: {exc.reason or 'no reason'})")
        except PexbotError as exc:
            now = self._clock()
            if self.schedule.expired(now):
                self._lose(
                    f"token expired: {self.schedule.failures + 1} refresh attempts failed,"
                    f" last: {_short(exc)}"
                )
            wait = self.schedule.on_failure(now)
            log.warning("token refresh failed (%s); retrying in %.2f s", _short(exc), wait)
        else:
            self._token = result.token
            self.refreshes += 1
            self.schedule.on_success(asked_at, _seconds(result.expires))
            if result.role is not None:
                self._transport.role = result.role
            log.debug("token refreshed (#%d)", self.refreshes)
            if self._on_refreshed is not None:
                self._on_refreshed(result)

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        log.warning("token lost: %s", reason)
        raise SessionEnded(reason)

    async def release(self, reason: str | None = None) -> None:
        """Send ``release_token`` once (idempotent); errors are logged, never raised.

        If the caller is cancelled while the request is in flight, the request still gets up
        to ``release_timeout`` seconds to finish before the cancellation goes on.
        """
        if self._release_task is None:
            if self._released:
                return
            self._released = True
            self._wake.set()
            self._release_task = asyncio.create_task(self._post_release(self._token, reason))
        task = self._release_task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Cancelled mid-release: finish it (bounded), then let the cancellation through.
            done, _ = await asyncio.wait({task}, timeout=self._release_timeout)
            if not done:
                task.cancel()
            raise

    async def _post_release(self, token: str, reason: str | None) -> None:
        body = wire.ReleaseTokenBody(reason=reason).body()
        try:
            await self._transport.request(
                "POST", "release_token", json=body, token=token, time_limit=self._release_timeout
            )
        except PexbotError as exc:
            log.info("release_token failed (%s); the node will expire the token", _short(exc))
        else:
            log.debug("token released")


def _seconds(expires: str) -> float | None:
    try:
        return float(expires)
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return f"HTTP {exc.status}" + (f" {exc.reason}" if exc.reason else "")
    return str(exc) or type(exc).__name__
