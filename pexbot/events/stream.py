"""The conference event stream: connect, read, reconnect with backoff, give up clearly.

Decisions:

- The token goes in the ``token`` header, never the URL (the spec allows either), so it cannot
  end up in access logs, proxies or our own error messages. Redirects are not followed: a
  custom header would travel to wherever the redirect points.
- The token getter is called on every attempt, so a reconnect uses the token the keeper
  refreshed meanwhile.
- A connection counts as healthy once it delivered an event or stayed open ``stable_after``
  seconds. Only then are the failure count and the backoff reset: a node that accepts and drops
  at once cannot keep us reconnecting forever.
- ``max_attempts`` (8, like the official client) consecutive failed attempts raise
  :class:`~pexbot.errors.SessionEnded` naming the last failure.
- 401/403/404 mean the token is dead or the conference is gone: after ``fatal_retries`` (1)
  retry with a fresh token they end the session at once instead of using up all attempts. The
  one retry covers a token refresh that raced with the reconnect.
- There is always a backoff delay before a reconnect, honouring a larger ``retry:`` from the
  node (capped at the backoff maximum): never a tight loop.
- ``on_lost`` is called whenever an open stream ends; failed attempts are only logged.
- The last event id is kept across connections and sent as ``Last-Event-ID`` (WHATWG
  behaviour; a node that ignores it loses nothing). Every event's id goes through an
  :class:`~pexbot.events.ids.EventIdTracker` first: a duplicate (a sequence id delivered
  already, say replayed twice) never reaches ``on_event``; a gap (events lost) ends the
  connection once the chunk at hand is delivered, and the next one is opened *without*
  ``Last-Event-ID`` so the node starts afresh with a full roster sync. The counts live in
  ``stats`` (a :class:`~pexbot.events.ids.StreamStats`, which may outlive the reader).
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from pexbot.errors import SessionEnded

from .ids import EventIdTracker, StreamStats
from .sse import SseEvent, SseParser, SseStreamTooLarge

__all__ = ["EventStreamReader"]

log = logging.getLogger(__name__)

FATAL_STATUSES = frozenset({401, 403, 404})


class RetryDelays(Protocol):
    """The delays between reconnects (``pexbot.signalling.Backoff`` is one)."""

    @property
    def maximum(self) -> float: ...

    def next_delay(self) -> float: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class _Outcome:
    connected: bool
    reason: str
    status: int | None = None
    delivered: int = 0
    lasted: float = 0.0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class EventStreamReader:
    """Reads ``url`` as an SSE stream until cancelled or it gives up (see module docstring)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        token: Callable[[], str],
        *,
        on_event: Callable[[SseEvent], None],
        on_connected: Callable[[int], None],
        on_lost: Callable[[str], None],
        backoff: RetryDelays,
        max_attempts: int = 8,
        ssl: ssl_module.SSLContext | bool | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float | None = None,
        stable_after: float = 10.0,
        fatal_retries: int = 1,
        stats: StreamStats | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 (got {max_attempts})")
        self._http = http
        self._url = url
        self._token = token
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._ssl = ssl
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._stable_after = stable_after
        self._fatal_retries = fatal_retries
        #: successful connections so far
        self.connections = 0
        #: events delivered so far, over every connection
        self.delivered = 0
        self.last_event_id = ""
        self._retry_ms: int | None = None
        self.tracker = EventIdTracker(stats)
        #: the next attempt sends no ``Last-Event-ID`` (a gap wants a full re-sync)
        self._fresh_next = False

    @property
    def stats(self) -> StreamStats:
        return self.tracker.stats

    async def run(self) -> None:
        """Read until cancelled; raise SessionEnded when the stream cannot be kept up."""
        failures = 0
        refusals = 0
        first = True
        while True:
            if not first:
                await asyncio.sleep(self._next_delay())
            first = False
            outcome = await self._attempt()
            if outcome.connected:
                self._on_lost(outcome.reason)
                if outcome.delivered > 0 or outcome.lasted >= self._stable_after:
                    failures = refusals = 0
                    self._backoff.reset()
                    log.info("event stream lost (%s); reconnecting", outcome.reason)
                    continue
                outcome = _Outcome(False, f"stream closed before any event ({outcome.reason})")
            failures += 1
            refusals = refusals + 1 if outcome.status in FATAL_STATUSES else 0
            log.warning(
                "event stream attempt failed (%d of %d): %s",
                failures,
                self._max_attempts,
                outcome.reason,
            )
            if refusals > self._fatal_retries:
                raise SessionEnded(
                    f"event stream refused: {outcome.reason} on {refusals} consecutive attempts"
                    " (token no longer accepted or conference gone)"
                )
            if failures >= self._max_attempts:
                what = "lost" if self.connections else "could not be opened"
                raise SessionEnded(
                    f"event stream {what}: {failures} "
                    f"{'reconnect ' if self.connections else ''}attempts failed "
                    f"(last: {outcome.reason})"
                )

    def _next_delay(self) -> float:
        delay = self._backoff.next_delay()
        if self._retry_ms is not None:
            delay = max(delay, min(self._retry_ms / 1000, self._backoff.maximum))
        return delay

    async def _attempt(self) -> _Outcome:
        headers = {"token": self._token(), "Accept": "text/event-stream"}
        headers["Cache-Control"] = "no-cache"
        if self.last_event_id and not self._fresh_next:
            headers["Last-Event-ID"] = self.last_event_id
        self._fresh_next = False
        kwargs: dict[str, Any] = {}
        if self._ssl is not None:
            kwargs["ssl"] = self._ssl
        timeout = aiohttp.ClientTimeout(total=None, sock_read=self._read_timeout)
        try:
            async with asyncio.timeout(self._connect_timeout):
                response = await self._http.get(
                    self._url, headers=headers, timeout=timeout, allow_redirects=False, **kwargs
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return _Outcome(False, _describe(exc))
        async with response:
            if response.status != 200:
                return _Outcome(False, f"HTTP {response.status}", status=response.status)
            return await self._read(response)

    async def _read(self, response: aiohttp.ClientResponse) -> _Outcome:
        if response.content_type != "text/event-stream":
            log.warning(
                "event stream has content type %r; reading it anyway", response.content_type
            )
        self.connections += 1
        self.tracker.connected()
        self._on_connected(self.connections)
        loop = asyncio.get_running_loop()
        started = loop.time()
        parser = SseParser(last_event_id=self.last_event_id)
        received = 0
        reason = "the node closed the event stream"
        try:
            async for chunk in response.content.iter_any():
                for event in parser.feed(chunk):
                    received += 1
                    self._take(event)
                self._retry_ms = parser.retry_ms if parser.retry_ms is not None else self._retry_ms
                if self.tracker.wants_resync:
                    self.tracker.resync_requested()
                    self._fresh_next = True
                    reason = "events missing from the stream: reconnecting for a full re-sync"
                    log.warning("event stream %s (after id %s)", reason, self.last_event_id)
                    break
        except (aiohttp.ClientError, TimeoutError, OSError, SseStreamTooLarge) as exc:
            reason = _describe(exc)
        self.tracker.lost()
        return _Outcome(True, reason, delivered=received, lasted=loop.time() - started)

    def _take(self, event: SseEvent) -> None:
        verdict = self.tracker.check(event.event, event.id, has_id=event.has_id)
        if not verdict.deliver:
            log.debug("duplicate %s event %s dropped", event.event, event.id)
            return
        if event.has_id:
            self.last_event_id = event.id
        self._deliver(event)

    def _deliver(self, event: SseEvent) -> None:
        self.delivered += 1
        try:
            self._on_event(event)
        except Exception:
            # The session's handler failing must not cost us the stream.
            log.exception("handling the %s event failed", event.event)
