"""Retrying failed sends: the pure decision (which requests, how often, how long) and the
transport doing it over real HTTP against a tiny node that fails on purpose."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web

from pexbot.errors import NodeUnavailable, TransportError, UnexpectedResponse
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.retry import NO_RETRY, Failure, RetryPolicy, is_idempotent

CALL = "participants/p1/calls/c1"


def test_idempotent_requests_by_the_api_meaning() -> None:
    for method, path in [
        ("GET", "participants"),
        ("GET", "conference_status"),
        ("GET", "status"),
        ("POST", "refresh_token"),
        ("POST", "release_token"),
        ("POST", f"{CALL}/ack"),
        ("POST", f"{CALL}/new_candidate"),
        ("POST", f"{CALL}/disconnect"),
        ("POST", "participants/p1/mute"),
        ("POST", "lock"),
        ("POST", "transform_layout"),
        ("POST", "participants/p1/release_floor"),
    ]:
        assert is_idempotent(method, path), (method, path)
    for method, path in [
        ("POST", "request_token"),
        ("POST", "participants/p1/calls"),
        ("POST", f"{CALL}/update"),
        ("POST", "message"),
        ("POST", "participants/p1/message"),
        ("POST", f"{CALL}/dtmf"),
        ("POST", "dial"),
        ("POST", "breakouts"),
        ("POST", "participants/p1/take_floor"),
        ("POST", "participants/p1/transfer"),
        ("POST", "something_new"),  # unknown: not repeated
        ("DELETE", "participants"),
    ]:
        assert not is_idempotent(method, path), (method, path)


def test_decide_bounds_attempts_and_deadline() -> None:
    policy = RetryPolicy(attempts=3, deadline=5.0)
    ok = policy.decide("GET", "participants", Failure.TIMEOUT, attempt=1, elapsed=0.5, delay=0.2)
    assert ok.retry
    last = policy.decide("GET", "participants", Failure.TIMEOUT, attempt=3, elapsed=1, delay=0.2)
    assert not last.retry and "3 attempts" in last.why
    late = policy.decide(
        "GET", "participants", Failure.SERVER_ERROR, attempt=1, elapsed=4.9, delay=0.2
    )
    assert not late.retry and "deadline" in late.why
    assert not NO_RETRY.decide("GET", "x", Failure.TIMEOUT, attempt=1, elapsed=0, delay=0.1).retry


@pytest.mark.parametrize("failure", [Failure.TIMEOUT, Failure.BROKEN, Failure.SERVER_ERROR])
def test_decide_never_repeats_what_may_have_been_done(failure: Failure) -> None:
    verdict = RetryPolicy().decide(
        "POST", "participants/p1/calls", failure, attempt=1, elapsed=0.0, delay=0.2
    )
    assert not verdict.retry and "not idempotent" in verdict.why


def test_decide_repeats_anything_that_never_reached_the_node() -> None:
    policy = RetryPolicy()
    verdict = policy.decide(
        "POST", "request_token", Failure.UNREACHED, attempt=1, elapsed=0, delay=0.2
    )
    assert verdict.retry


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(deadline=0)
    with pytest.raises(ValueError):
        RetryPolicy(initial=1.0, maximum=0.5)


def _failing_node(script: list[int | str], seen: list[str]) -> web.Application:
    """Answers each request with the next entry of ``script`` (a status, or "hold": sleep 2 s
    then answer 200), then 200 once the script is used up."""

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path.rsplit("/", 1)[-1])
        step = script.pop(0) if script else 200
        if step == "hold":
            await asyncio.sleep(2.0)
            step = 200
        assert isinstance(step, int)
        status = "success" if step == 200 else "failed"
        return web.json_response({"status": status, "result": step == 200}, status=step)

    app = web.Application()
    app.router.add_route("*", "/api/client/v2/conferences/{alias}/{tail:.*}", handler)
    return app


def _transport(server: Any, **options: Any) -> ApiTransport:
    return ApiTransport(f"http://127.0.0.1:{server.port}", "meet", **options)


async def test_idempotent_requests_recover_after_5xx_and_timeouts(aiohttp_server: Any) -> None:
    seen: list[str] = []
    server = await aiohttp_server(_failing_node([503, "hold", 500], seen))
    transport = _transport(server, timeout=0.5, retry=RetryPolicy(attempts=4, initial=0.05))
    try:
        raw = await transport.request("GET", "participants")
        assert raw.status == 200 and seen == ["participants"] * 4
        stats = transport.stats
        assert (stats.requests, stats.failures, stats.retried, stats.recovered) == (1, 3, 3, 1)
        assert stats.by_kind == {"5xx": 2, "timeout": 1}
    finally:
        await transport.aclose()


async def test_non_idempotent_requests_raise_typed_errors_at_once(aiohttp_server: Any) -> None:
    seen: list[str] = []
    server = await aiohttp_server(_failing_node([500, "hold", 503], seen))
    transport = _transport(server, timeout=0.5)
    try:
        with pytest.raises(UnexpectedResponse, match="not retried: POST message is not idempotent"):
            await transport.request("POST", "message", json={"payload": "hi"})
        with pytest.raises(TransportError, match="may have carried it out"):
            await transport.request("POST", "participants/p1/calls", json={})
        with pytest.raises(NodeUnavailable, match="not idempotent"):
            await transport.request("POST", "participants/p1/calls", json={})
        assert seen == ["message", "calls", "calls"]  # one send each
        assert transport.stats.gave_up == 3 and transport.stats.retried == 0
    finally:
        await transport.aclose()


async def test_a_request_ends_within_its_deadline(aiohttp_server: Any) -> None:
    seen: list[str] = []
    server = await aiohttp_server(_failing_node(["hold"] * 20, seen))
    policy = RetryPolicy(attempts=100, initial=0.05, maximum=0.1, deadline=1.5)
    transport = _transport(server, timeout=0.4, retry=policy)
    try:
        started = time.monotonic()
        with pytest.raises(TransportError, match="deadline"):
            await transport.request("GET", "participants")
        took = time.monotonic() - started
        # The deadline plus at most one send's timeout (and a loaded machine's slack).
        assert took < 1.5 + 0.4 + 1.0, took
        assert 2 <= len(seen) < 10
    finally:
        await transport.aclose()


async def test_a_refused_connection_is_retried_even_when_not_idempotent() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = ApiTransport(
        f"http://127.0.0.1:{port}", "meet", retry=RetryPolicy(attempts=3, initial=0.05)
    )
    try:
        with pytest.raises(TransportError, match="3 attempts"):
            await transport.request("POST", "request_token", json={})
        assert transport.stats.by_kind == {"unreached": 3} and transport.stats.retried == 2
    finally:
        await transport.aclose()
