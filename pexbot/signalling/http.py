"""One HTTP exchange with a Conferencing Node, and what its status means.

``ApiTransport`` is deliberately thin: it builds the URL, sets the ``token`` / ``pin`` headers,
reads the ``{"status", "result"}`` envelope and turns error statuses into the error tree. It
knows nothing of sessions or endpoints beyond their paths. The ``aiohttp.ClientSession`` may be
injected (httpx-style); an injected one is never closed here. A failed send is repeated when
:mod:`.retry` says the request is safe to send again (``retry=``, counted in ``stats``).

Secrets: the token and PIN travel only in headers. Neither is ever logged, put in a URL, or
copied into an exception message; log lines carry the method, the path and the status only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from pexbot.errors import TransportError

from .retry import RETRY_STATUSES, Failure, RetryPolicy, RetryStats, is_idempotent
from .status_map import UNAVAILABLE_STATUSES, error_for, reason_of

__all__ = [
    "MAX_RESPONSE_BYTES",
    "UNAVAILABLE_STATUSES",
    "ApiTransport",
    "RawResponse",
    "error_for",
    "node_origin",
    "reason_of",
]

log = logging.getLogger(__name__)

API_ROOT = "/api/client/v2"
#: the largest response body read (a presentation JPEG at full size is well under it)
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What the node answered: HTTP status, envelope ``status`` / ``result``, raw bytes."""

    status: int
    result: Any
    envelope_status: str | None
    content: bytes
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def node_origin(node: str) -> str:
    """``scheme://host[:port]`` of ``node``: safe to print (no credentials, path or query)."""
    parts = urlsplit(node)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else node


class ApiTransport:
    """Requests to one conference alias (or node-level paths) on one Conferencing Node."""

    def __init__(
        self,
        node: str,
        alias: str,
        *,
        http: aiohttp.ClientSession | None = None,
        verify_tls: bool | ssl.SSLContext = True,
        timeout: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not node.startswith(("http://", "https://")):
            node = "https://" + node
        self.node = node.rstrip("/")
        self.alias = alias
        self.origin = node_origin(self.node)
        self.timeout = timeout
        #: when a failed send is repeated (:mod:`.retry`); ``RetryPolicy(attempts=1)``: never
        self.retry = retry or RetryPolicy()
        #: what the requests went through: failures, retries, errors after failures
        self.stats = RetryStats()
        self.max_response_bytes = max_response_bytes
        self.ssl: bool | ssl.SSLContext = verify_tls
        #: our role as the node last told us (``"HOST"`` / ``"GUEST"``); decides ``HostOnly``
        self.role: str | None = None
        self._http = http
        self._owns_http = http is None
        self._closed = False

    def __repr__(self) -> str:
        return f"ApiTransport({self.origin!r}, {self.alias!r})"

    @property
    def conference_url(self) -> str:
        return f"{self.node}{API_ROOT}/conferences/{quote(self.alias, safe='')}"

    def url(self, path: str, *, node_level: bool = False) -> str:
        base = f"{self.node}{API_ROOT}" if node_level else self.conference_url
        return f"{base}/{path}" if path else base

    @property
    def http(self) -> aiohttp.ClientSession:
        """The aiohttp session (created on first use when none was injected)."""
        if self._closed:
            raise TransportError(f"transport to {self.origin} is closed")
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    @property
    def injected_http(self) -> aiohttp.ClientSession | None:
        """The caller's aiohttp session, if one was injected (``None`` when we own ours)."""
        return None if self._owns_http else self._http

    async def aclose(self) -> None:
        """Close the aiohttp session if we created it (idempotent)."""
        self._closed = True
        if self._owns_http and self._http is not None:
            http, self._http = self._http, None
            await http.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
        pin: str | None = None,
        params: dict[str, str] | None = None,
        host_only: bool = False,
        node_level: bool = False,
        time_limit: float | None = None,
        raise_for_status: bool = True,
        retry: RetryPolicy | None = None,
    ) -> RawResponse:
        """Send one request; return the response or raise the typed error for its status.

        A failed send is repeated as ``retry`` (default: the transport's policy) allows: see
        :mod:`.retry` for which requests are safe to send again. ``time_limit`` bounds the
        whole request, retries included; each send is bounded by the transport's timeout.
        """
        policy = retry or self.retry
        deadline = policy.deadline if time_limit is None else min(policy.deadline, time_limit)
        per_send = self.timeout if time_limit is None else min(self.timeout, time_limit)
        headers: dict[str, str] = {}
        if token is not None:
            headers["token"] = token
        if pin is not None:
            headers["pin"] = pin
        endpoint = path or "(conference)"
        stats = self.stats
        stats.requests += 1
        backoff = policy.backoff()
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            left = deadline - (time.monotonic() - started)
            outcome = await self._send(
                method,
                path,
                endpoint,
                json,
                headers,
                params,
                node_level,
                max(0.05, min(per_send, left)),
            )
            failure: Failure | None
            if isinstance(outcome, RawResponse):
                failure = Failure.SERVER_ERROR if outcome.status in RETRY_STATUSES else None
            else:
                failure = outcome.failure
            if failure is None:
                assert isinstance(outcome, RawResponse)
                if attempt > 1:
                    stats.recovered += 1
                return self._checked(outcome, endpoint, host_only, raise_for_status)
            stats.failed(failure)
            delay = backoff.next_delay()
            verdict = policy.decide(
                method,
                path,
                failure,
                attempt=attempt,
                elapsed=time.monotonic() - started,
                delay=delay,
            )
            if not verdict.retry:
                stats.gave_up += 1
                why = verdict.why
                if failure is not Failure.UNREACHED and not is_idempotent(method, path):
                    if failure is not Failure.SERVER_ERROR:
                        why += "; the node may have carried it out"
                if isinstance(outcome, RawResponse):
                    if not raise_for_status:
                        return outcome
                    raise error_for(
                        endpoint,
                        outcome.status,
                        outcome.result,
                        host_only=host_only,
                        role=self.role,
                        note=why,
                    )
                raise TransportError(f"{outcome.message} ({why})")
            stats.retried += 1
            log.info(
                "%s %s failed (%s); attempt %d in %.2f s",
                method,
                endpoint,
                failure.value,
                attempt + 1,
                delay,
            )
            await asyncio.sleep(delay)

    async def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        json: Any,
        headers: dict[str, str],
        params: dict[str, str] | None,
        node_level: bool,
        limit: float,
    ) -> RawResponse | _SendFailed:
        """One send: the decoded answer, or how it failed (a certificate or size error, which
        no retry can mend, is raised)."""
        started = time.monotonic()
        try:
            async with self.http.request(
                method,
                self.url(path, node_level=node_level),
                json=json if method != "GET" else None,
                headers=headers,
                params=params,
                ssl=self.ssl,
                timeout=aiohttp.ClientTimeout(total=limit),
                allow_redirects=False,
            ) as resp:
                content = await _read_bounded(resp, self.max_response_bytes)
                content_type = resp.content_type
                status = resp.status
        except _TooLarge as exc:
            raise TransportError(
                f"{method} {endpoint} to {self.origin} failed: the response is over {exc} bytes"
            ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # aiohttp's messages may quote the URL; ours names only the origin.
            kind = type(exc).__name__
            log.debug("%s %s -> %s", method, endpoint, kind)
            message = f"{method} {endpoint} to {self.origin} failed: {kind}" + _describe_os_error(
                exc
            )
            if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
                raise TransportError(message) from None
            return _SendFailed(_failure_of(exc), message)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %d (%.0f ms)", method, endpoint, status, elapsed_ms)
        return _decode(status, content, content_type)

    def _checked(
        self, raw: RawResponse, endpoint: str, host_only: bool, raise_for_status: bool
    ) -> RawResponse:
        if raise_for_status and (not raw.ok or raw.envelope_status in ("failure", "failed")):
            raise error_for(endpoint, raw.status, raw.result, host_only=host_only, role=self.role)
        return raw


@dataclass(frozen=True, slots=True)
class _SendFailed:
    failure: Failure
    message: str


def _failure_of(exc: BaseException) -> Failure:
    if isinstance(exc, TimeoutError):
        return Failure.TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.UNREACHED
    return Failure.BROKEN


class _TooLarge(Exception):
    """A response body past the transport's bound (the argument is the bound)."""


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    # A node (or anything posing as one) must not make us hold an unbounded body in memory.
    if resp.content_length is not None and resp.content_length > limit:
        raise _TooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise _TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return " (timed out)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f" ({exc.os_error.strerror or exc.os_error})" if exc.os_error else ""
    if isinstance(exc, OSError) and exc.strerror:
        return f" ({exc.strerror})"
    return ""


def _decode(status: int, content: bytes, content_type: str) -> RawResponse:
    if content_type == "application/json" or content[:1] in (b"{", b"["):
        try:
            body = json.loads(content) if content else None
        except (ValueError, RecursionError):  # RecursionError: nesting past Python's stack
            body = None
        else:
            if isinstance(body, dict) and "result" in body:
                envelope_status = body.get("status")
                return RawResponse(
                    status,
                    body["result"],
                    envelope_status if isinstance(envelope_status, str) else None,
                    content,
                    content_type,
                )
            return RawResponse(status, body, None, content, content_type)
    text: Any = None
    if content_type.startswith("text/") and content:
        text = content.decode("utf-8", "replace")
    return RawResponse(status, text, None, content, content_type)
