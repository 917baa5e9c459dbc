"""Fuzzing the event path: whatever bytes a node streams, the SSE parser and the event parser
end in events or a typed error, never a crash, and what they make does not depend on how the
bytes were chunked."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator

import pytest
from fuzzing import SOAK_EXAMPLES, fuzz_settings, json_values
from hypothesis import given
from hypothesis import strategies as st

from pexbot.events import UnknownEvent, parse_event, parse_payload
from pexbot.events.parse import _PARSERS
from pexbot.events.sse import SseEvent, SseParser, SseStreamTooLarge, format_event

EVENT_NAMES = sorted(_PARSERS)

# Bytes that look like an event stream often enough to reach every branch of the parser.
stream_pieces = st.sampled_from(
    [
        b"data: ",
        b"event: ",
        b"id: ",
        b"retry: ",
        b":",
        b"\n",
        b"\r",
        b"\r\n",
        b"\xef\xbb\xbf",
        b"\xc3",
        b"\xa9",
        b"\x00",
        b"{}",
        b"participant_create",
        b"1000",
        b"x",
    ]
)
streams = st.lists(stream_pieces | st.binary(max_size=12), max_size=40).map(b"".join)


def _feed_all(chunks: list[bytes], *, max_buffer: int = 1 << 20) -> list[SseEvent]:
    parser = SseParser(max_buffer=max_buffer)
    events: list[SseEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


@fuzz_settings()
@given(stream=streams, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_sse_parse_does_not_depend_on_chunking(stream: bytes, cuts: list[int]) -> None:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert _feed_all(chunks) == _feed_all([stream])


@fuzz_settings()
@given(
    name=st.text(min_size=1, max_size=30).filter(lambda s: "\r" not in s and "\n" not in s),
    data=st.text(max_size=200),
    event_id=st.text(max_size=20).filter(lambda s: not set(s) & {"\r", "\n", "\0"}),
)
def test_sse_format_then_parse_round_trips(name: str, data: str, event_id: str) -> None:
    events = _feed_all([format_event(name, data, event_id)])
    assert len(events) == 1
    # The parser normalises line breaks inside data to \n; names keep their text but lose one
    # leading space (WHATWG strips exactly one after the colon, and format_event writes one).
    expected = data.replace("\r\n", "\n").replace("\r", "\n")
    assert (events[0].event, events[0].data, events[0].id) == (name, expected, event_id)


@fuzz_settings()
@given(stream=streams)
def test_sse_buffer_bound_is_a_typed_error(stream: bytes) -> None:
    # A tiny bound: either the events come out, or SseStreamTooLarge (a TransportError) does.
    try:
        _feed_all([stream], max_buffer=16)
    except SseStreamTooLarge:
        pass


def test_an_endless_line_is_refused_with_bounded_memory() -> None:
    parser = SseParser(max_buffer=1 << 20)
    with pytest.raises(SseStreamTooLarge):
        for _ in range(64):
            parser.feed(b"data: " + b"x" * 65536)


class _Errors(logging.Handler):
    """ERROR records of pexbot's loggers: the parser logs one only when it failed inside."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _no_internal_failure() -> Iterator[None]:
    handler = _Errors()
    logger = logging.getLogger("pexbot")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not handler.records, handler.records[0].getMessage()


@fuzz_settings()
@given(name=st.sampled_from(EVENT_NAMES), payload=json_values())
def test_any_payload_of_a_known_event_is_typed_or_unknown(name: str, payload: object) -> None:
    # A payload the models do not fit is an UnknownEvent with a reason, not a parser crash.
    with _no_internal_failure():
        event = parse_payload(name, payload, event_id="7")
    if isinstance(event, UnknownEvent):
        assert event.event_name == name


@fuzz_settings()
@given(name=st.sampled_from(EVENT_NAMES) | st.text(max_size=20), data=st.text(max_size=300))
def test_any_text_of_any_event_parses_without_raising(name: str, data: str) -> None:
    with _no_internal_failure():
        parse_event(SseEvent(name, data, "1"))


@pytest.mark.parametrize("name", ["participant_create", "breakout_event", "message_received"])
def test_pathological_json_is_unknown_not_a_crash(name: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError on this
    huge = json.dumps({"payload": "x" * 5_000_000, "uuid": "u", "origin": "o", "type": "t"})
    with _no_internal_failure():
        for data in (deep, huge, "\ud800", "NaN", "1e999999"):
            parse_event(SseEvent(name, data, "1"))
    assert isinstance(parse_event(SseEvent(name, deep, "1")), UnknownEvent)


@pytest.mark.soak
def test_soak_event_parsing() -> None:
    @fuzz_settings(SOAK_EXAMPLES)
    @given(name=st.sampled_from(EVENT_NAMES), payload=json_values(60))
    def typed(name: str, payload: object) -> None:
        parse_payload(name, payload)

    @fuzz_settings(SOAK_EXAMPLES)
    @given(stream=streams, cut=st.integers(min_value=0, max_value=400))
    def chunked(stream: bytes, cut: int) -> None:
        cut %= len(stream) + 1
        assert _feed_all([stream[:cut], stream[cut:]]) == _feed_all([stream])

    typed()
    chunked()
