"""Fuzzing what a node answers: any body, status and content type ends in a response or a typed
error (``PexbotError``), never a crash; and a body past the bound is refused without holding it."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from fuzzing import fuzz_settings, json_values
from hypothesis import given
from hypothesis import strategies as st

from pexbot import wire
from pexbot.errors import ApiError, PexbotError, TransportError, UnexpectedResponse
from pexbot.signalling.api.base import parse
from pexbot.signalling.http import ApiTransport, _decode, error_for

RESPONSE_MODELS = [
    wire.RequestTokenResult,
    wire.RefreshTokenResult,
    wire.CallsResult,
    wire.UpdateResult,
    wire.Participant,
    wire.ConferenceStatus,
    wire.BreakoutCreated,
]
content_types = st.sampled_from(
    ["application/json", "text/plain", "text/html", "application/octet-stream", ""]
)
bodies = (
    st.binary(max_size=200)
    | json_values().map(lambda v: json.dumps(v).encode())
    | json_values().map(lambda v: json.dumps({"status": "success", "result": v}).encode())
)


@fuzz_settings()
@given(status=st.integers(min_value=100, max_value=599), content=bodies, kind=content_types)
def test_any_answer_decodes_or_maps_to_a_typed_error(
    status: int, content: bytes, kind: str
) -> None:
    raw = _decode(status, content, kind)
    assert raw.status == status and raw.content == content
    if not raw.ok:
        error = error_for("calls", status, raw.result, host_only=True, role="GUEST")
        assert isinstance(error, ApiError)
        assert "\n" not in str(error) and len(str(error)) < 400  # one short line


@fuzz_settings()
@given(model=st.sampled_from(RESPONSE_MODELS), result=json_values())
def test_any_result_is_the_model_or_unexpected_response(
    model: type[wire.WireModel], result: object
) -> None:
    try:
        parsed = parse(model, result, "request_token")
    except UnexpectedResponse as exc:
        assert "request_token" in str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(parsed, model)


def test_deeply_nested_json_is_no_crash() -> None:
    raw = _decode(200, b"[" * 100_000 + b"]" * 100_000, "application/json")
    assert raw.result is None


async def test_a_body_past_the_bound_is_a_transport_error(aiohttp_client: object) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(64):  # streamed, no Content-Length: the bound must hold while reading
            await response.write(b" " * 65536)
        return response

    app = web.Application()
    app.router.add_get("/api/client/v2/conferences/room/huge", huge)
    client = await aiohttp_client(app)  # type: ignore[operator]
    node = str(client.make_url("/")).rstrip("/")
    transport = ApiTransport(node, "room", http=client.session, max_response_bytes=1 << 20)
    with pytest.raises(TransportError, match="over 1048576 bytes") as caught:
        await transport.request("GET", "huge")
    assert isinstance(caught.value, PexbotError)
    small = ApiTransport(node, "room", http=client.session)
    assert (await small.request("GET", "huge")).status == 200
