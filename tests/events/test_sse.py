"""WHATWG EventSource parsing cases, one test each, plus the formatter."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from pexbot.events.sse import SseEvent, SseParser, SseStreamTooLarge, format_comment, format_event


def feed_all(*chunks: bytes | str, parser: SseParser | None = None) -> list[SseEvent]:
    parser = parser or SseParser()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def datas(events: list[SseEvent]) -> list[str]:
    return [e.data for e in events]


def test_multi_line_data_is_joined_with_lf() -> None:
    events = feed_all(b"data: one\ndata: two\ndata:three\n\n")
    assert datas(events) == ["one\ntwo\nthree"]


def test_comment_lines_are_ignored() -> None:
    events = feed_all(b": hello\ndata: a\n:another comment\ndata: b\n\n:\n\n")
    assert datas(events) == ["a\nb"]


def test_default_event_name_is_message_and_event_field_sets_it() -> None:
    events = feed_all(b"data: a\n\nevent: stage\ndata: b\n\ndata: c\n\n")
    assert [(e.event, e.data) for e in events] == [
        ("message", "a"),
        ("stage", "b"),
        ("message", "c"),
    ]


def test_event_name_resets_after_dispatch_even_when_not_dispatched() -> None:
    # "event: x" + blank line with no data: nothing dispatched, and the name does not leak.
    events = feed_all(b"event: participant_create\n\ndata: later\n\n")
    assert [(e.event, e.data) for e in events] == [("message", "later")]


def test_id_persists_across_events_until_changed() -> None:
    parser = SseParser()
    events = feed_all(
        b"id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\nid\ndata: d\n\n", parser=parser
    )
    assert [e.id for e in events] == ["7", "7", "8", ""]
    assert parser.last_event_id == ""


def test_id_containing_nul_is_ignored() -> None:
    parser = SseParser()
    events = feed_all(b"id: good\ndata: a\n\nid: b\x00ad\ndata: b\n\n", parser=parser)
    assert [e.id for e in events] == ["good", "good"]
    assert parser.last_event_id == "good"


def test_id_without_data_still_sets_last_event_id() -> None:
    parser = SseParser()
    assert feed_all(b"id: 42\n\n", parser=parser) == []
    assert parser.last_event_id == "42"
    assert feed_all(b"data: x\n\n", parser=parser)[0].id == "42"


def test_last_event_id_seeds_a_new_connection() -> None:
    events = feed_all(b"data: x\n\n", parser=SseParser(last_event_id="99"))
    assert events[0].id == "99"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"retry: 1500", 1500),
        (b"retry:250", 250),
        (b"retry: 15a", None),
        (b"retry: -5", None),
        (b"retry: 1.5", None),
        (b"retry:", None),
        (b"retry:  10", None),  # only ONE space is stripped; " 10" is not all digits
        ("retry: \u0661\u0662".encode(), None),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_retry_accepts_ascii_digits_only(line: bytes, expected: int | None) -> None:
    parser = SseParser()
    events = feed_all(line + b"\ndata: x\n\n", parser=parser)
    assert parser.retry_ms == expected
    assert events[0].retry == expected


def test_retry_persists_on_parser_but_is_per_block_on_events() -> None:
    parser = SseParser()
    events = feed_all(b"retry: 300\ndata: a\n\ndata: b\n\nretry: x\n\n", parser=parser)
    assert [e.retry for e in events] == [300, None]
    assert parser.retry_ms == 300


def test_field_without_colon_has_empty_value() -> None:
    # "data" alone appends an empty line; "event" alone resets the name to the default.
    events = feed_all(b"data\n\nevent\ndata: x\n\ndata\ndata\n\n")
    assert [(e.event, e.data) for e in events] == [
        ("message", ""),
        ("message", "x"),
        ("message", "\n"),
    ]


def test_only_one_leading_space_after_the_colon_is_stripped() -> None:
    events = feed_all(b"data:  two spaces\n\ndata:none\n\ndata: a: b\n\nevent:  x\ndata: y\n\n")
    assert [(e.event, e.data) for e in events] == [
        ("message", " two spaces"),
        ("message", "none"),
        ("message", "a: b"),
        (" x", "y"),
    ]


def test_unknown_fields_are_ignored() -> None:
    events = feed_all(b"foo: bar\ndata: x\nDATA: y\nData: z\n\n")
    assert datas(events) == ["x"]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_line_endings_cr_lf_crlf(eol: bytes) -> None:
    stream = b"event: a" + eol + b"data: 1" + eol + b"data: 2" + eol + eol + b"data: 3" + eol + eol
    assert [(e.event, e.data) for e in feed_all(stream)] == [("a", "1\n2"), ("message", "3")]


def test_mixed_line_endings_in_one_stream() -> None:
    events = feed_all(b"data: a\rdata: b\ndata: c\r\n\r\ndata: d\n\r")
    assert datas(events) == ["a\nb\nc", "d"]


def test_crlf_split_across_chunks_is_one_line_ending() -> None:
    # If CR and LF were two endings, the LF would be a blank line dispatching "a" alone.
    events = feed_all(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert datas(events) == ["a\nb"]


def test_crlf_split_with_empty_chunks_between() -> None:
    events = feed_all(b"data: a\r", b"", b"", b"\ndata: b\n\n")
    assert datas(events) == ["a\nb"]


def test_cr_at_chunk_end_followed_by_other_text_is_still_a_line_ending() -> None:
    events = feed_all(b"data: a\r", b"data: b\r", b"\r")
    assert datas(events) == ["a\nb"]


def test_cr_cr_across_chunks_is_two_line_endings() -> None:
    events = feed_all(b"data: a\r", b"\rdata: b\n\n")
    assert datas(events) == ["a", "b"]


def test_bom_at_stream_start_is_stripped() -> None:
    events = feed_all(b"\xef\xbb\xbfdata: x\n\n")
    assert datas(events) == ["x"]


def test_bom_split_across_chunks_is_stripped() -> None:
    events = feed_all(b"\xef", b"\xbb", b"\xbfevent: e\ndata: x\n\n")
    assert [(e.event, e.data) for e in events] == [("e", "x")]


def test_bom_later_in_the_stream_is_not_stripped() -> None:
    # Only the first BOM goes; a second one makes the field name "\ufeffdata", unknown.
    events = feed_all(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n")
    assert datas(events) == ["y"]


def test_bom_in_str_input_is_stripped() -> None:
    assert datas(feed_all("\ufeffdata: x\n\n")) == ["x"]


def test_event_with_empty_data_buffer_is_not_dispatched() -> None:
    events = feed_all(b"event: participant_sync_begin\nid: 3\n\n\n\n")
    assert events == []


def test_final_event_without_blank_line_is_not_delivered() -> None:
    parser = SseParser()
    events = feed_all(b"data: complete\n\ndata: incomplete\n", parser=parser)
    assert datas(events) == ["complete"]
    # still not delivered while the stream stays open with no blank line
    assert parser.feed(b"data: more") == []


def test_whatwg_spec_example_blank_data_lines() -> None:
    # From the HTML standard: two events, "" and "\n"; the last "data:" is never dispatched.
    events = feed_all(b"data\n\ndata\ndata\n\ndata:")
    assert datas(events) == ["", "\n"]


def test_whatwg_spec_example_two_identical_events() -> None:
    events = feed_all(b"data:test\n\ndata: test\n\n")
    assert datas(events) == ["test", "test"]


def test_utf8_multibyte_characters_split_across_chunks() -> None:
    text = "data: caf\u00e9 \u20ac \U0001f600 \u65e5\u672c\n\n"
    raw = text.encode()
    events = feed_all(*(raw[i : i + 1] for i in range(len(raw))))
    assert datas(events) == ["caf\u00e9 \u20ac \U0001f600 \u65e5\u672c"]


def test_invalid_utf8_becomes_replacement_character() -> None:
    events = feed_all(b"data: a\xffb\n\n")
    assert datas(events) == ["a\ufffdb"]


def test_random_chunking_gives_the_same_events() -> None:
    stream = (
        b'\xef\xbb\xbf: hi\r\nevent: participant_create\r\nid: 1\r\ndata: {"display_name": '
        b'"Z\xc3\xbcrich \xf0\x9f\x98\x80"}\r\n\r\nretry: 20\rdata: a\rdata: b\r\r'
        b"event: stage\ndata: []\n\nid: x\x00y\ndata\n\n"
    )
    expected = feed_all(stream)
    assert [e.event for e in expected] == ["participant_create", "message", "stage", "message"]
    rng = random.Random(1234)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 25)))
        bounds = [0, *cuts, len(stream)]
        chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
        assert feed_all(*chunks) == expected, cuts


def test_unterminated_growth_is_bounded() -> None:
    parser = SseParser(max_buffer=1000)
    parser.feed(b"data: " + b"x" * 500 + b"\n")
    with pytest.raises(SseStreamTooLarge):
        parser.feed(b"data: " + b"y" * 600)


def test_format_event_round_trips() -> None:
    raw = (
        format_event("participant_create", '{"a": 1}', id="5")
        + format_event("presentation_stop", None)
        + format_event("x", "line1\nline2\r\nline3")
        + format_comment("keepalive")
        + format_event("empty", "", retry=300)
    )
    events = feed_all(raw)
    assert events == [
        SseEvent("participant_create", '{"a": 1}', "5", None),
        SseEvent("presentation_stop", "null", "5", None),
        SseEvent("x", "line1\nline2\nline3", "5", None),
        SseEvent("empty", "", "5", 300),
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda: format_event("bad\nname", "x"),
        lambda: format_event("ok", "x", id="a\rb"),
        lambda: format_event("ok", "x", id="a\x00b"),
        lambda: format_event("ok", "x", retry=-1),
        lambda: format_comment("two\nlines"),
    ],
)
def test_format_event_rejects_what_would_break_framing(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()
