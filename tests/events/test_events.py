"""Typed events: every spec event, v14 ``message``, the extras, and the never-raise rules."""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest

from pexbot import events as ev
from pexbot.events.sse import SseEvent, SseParser, format_event
from pexbot.events.types import SPEC_EVENT_NAMES, WIRE_EVENT_NAMES

PARTICIPANT = {
    "buzz_time": 0,
    "call_direction": "in",
    "call_tag": "def456",
    "disconnect_supported": "YES",
    "display_name": "Alice",
    "encryption": "On",
    "external_node_uuid": "",
    "fecc_supported": "NO",
    "has_media": False,
    "is_audio_only_call": "NO",
    "is_client_muted": False,
    "is_external": False,
    "is_idp_authenticated": False,
    "is_conjoined": False,
    "is_muted": "NO",
    "is_presenting": "NO",
    "is_streaming_conference": False,
    "is_video_call": "YES",
    "is_video_muted": False,
    "layout_group": "",
    "local_alias": "meet.alice",
    "mute_supported": "YES",
    "needs_presentation_in_mix": True,
    "overlay_text": "Alice",
    "presentation_supported": "NO",
    "protocol": "api",
    "receive_from_audio_mix": "main",
    "role": "chair",
    "rx_presentation_policy": "ALLOW",
    "send_to_audio_mixes": [{"mix_name": "main", "prominent": False}],
    "service_type": "conference",
    "show_live_captions": False,
    "spotlight": 0,
    "start_time": 1441720992,
    "transfer_supported": "YES",
    "uri": "Infinity_Connect_10.44.21.35",
    "uuid": "50b956c8-9a63-4711-8630-3810f8666b04",
    "vendor": "Pexip Infinity Connect/2.0.0",
}

B_UUID = "00000000-0000-0000-0000-000000000001"

# (wire name, data, SSE id, expected class, expected attributes)
CASES: list[tuple[str, Any, str | None, type, dict[str, Any]]] = [
    (
        "presentation_start",
        {"presenter_name": "Bob", "presenter_uri": "bob@example.com", "source": "video"},
        None,
        ev.PresentationStarted,
        {"presenter_name": "Bob", "presenter_uri": "bob@example.com", "source": "video"},
    ),
    ("presentation_stop", None, None, ev.PresentationStopped, {}),
    ("presentation_frame", None, "MTAuNDQuOTkuMl8xOA==", ev.PresentationFrame,
     {"event_id": "MTAuNDQuOTkuMl8xOA=="}),
    ("participant_create", PARTICIPANT, None, ev.ParticipantCreated, {}),
    ("participant_update", {**PARTICIPANT, "is_muted": "YES"}, None, ev.ParticipantUpdated, {}),
    ("participant_delete", {"uuid": "65b4"}, None, ev.ParticipantDeleted, {"uuid": "65b4"}),
    ("participant_sync_begin", None, None, ev.SyncBegin, {}),
    ("participant_sync_end", None, None, ev.SyncEnd, {}),
    (
        "conference_update",
        {"locked": True, "guests_muted": False, "started": True, "direct_media": False,
         "classification": {"levels": {}, "current": None}, "pinning_config": "basic_backfill",
         "end_action": "transfer", "end_time": 1688688005},
        None,
        ev.ConferenceUpdated,
        {},
    ),
    (
        "layout",
        {"view": "1:7", "participants": ["a", "b"],
         "requested_layout": {"primary_screen": {"chair_layout": "2:21", "guest_layout": "2x2"}},
         "overlay_text_enabled": False},
        None,
        ev.LayoutChanged,
        {"view": "1:7", "participants": ["a", "b"]},
    ),
    ("live_captions", {"data": "Hi my name is Alice", "is_final": True}, None, ev.LiveCaptions,
     {"text": "Hi my name is Alice", "is_final": True}),
    (
        "message_received",
        {"origin": "Alice", "uuid": "eca5", "type": "text/plain", "direct": False,
         "payload": "Hello World"},
        None,
        ev.MessageReceived,
        {"origin": "Alice", "uuid": "eca5", "payload": "Hello World", "direct": False},
    ),
    (
        "message",
        {"origin": "Alice", "uuid": "eca5", "type": "text/plain", "payload": "v14"},
        None,
        ev.Message,
        {"payload": "v14"},
    ),
    (
        "stage",
        [{"stage_index": 1, "participant_uuid": "b", "vad": 0},
         {"stage_index": 0, "participant_uuid": "a", "vad": 100}],
        None,
        ev.StageChanged,
        {},
    ),
    ("call_disconnected", {"call_uuid": "c1", "reason": "API initiated"},
     None, ev.CallDisconnected, {"call_uuid": "c1", "reason": "API initiated"}),
    ("disconnect", {"reason": "API initiated participant disconnect"}, None, ev.Disconnected,
     {"reason": "API initiated participant disconnect"}),
    ("splash_screen", {"screen_key": "direct_media_welcome"}, None, ev.SplashScreen,
     {"screen_key": "direct_media_welcome"}),
    ("new_offer", {"sdp": "v=0\r\n"}, None, ev.NewOffer, {"sdp": "v=0\r\n"}),
    ("update_sdp", {"sdp": "v=0\r\n"}, None, ev.UpdateSdp, {"sdp": "v=0\r\n"}),
    (
        "new_candidate",
        {"candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host", "mid": "0", "ufrag": "YAeD",
         "pwd": "IfZn"},
        None,
        ev.NewCandidate,
        {"mid": "0", "ufrag": "YAeD", "pwd": "IfZn"},
    ),
    ("peer_disconnect", None, None, ev.PeerDisconnected, {}),
    ("refer", {"alias": "meet.bob", "breakout_name": "Room 1", "token": "one-time"}, None,
     ev.Refer, {"alias": "meet.bob", "breakout_name": "Room 1", "token": "one-time"}),
    ("breakout_begin", {"breakout_uuid": B_UUID, "participant_uuid": "participantxyz"}, None,
     ev.BreakoutBegin, {"breakout_uuid": B_UUID, "participant_uuid": "participantxyz"}),
    ("breakout_event", {"breakout_uuid": B_UUID, "event": "participant_sync_begin", "data": None},
     None, ev.BreakoutEvent, {"breakout_uuid": B_UUID, "event": ev.SyncBegin()}),
    # The spec's own example has a stray space in the key.
    ("breakout_end", {" breakout_uuid": B_UUID, "participant_uuid": "participantxyz"}, None,
     ev.BreakoutEnd, {"breakout_uuid": B_UUID, "participant_uuid": "participantxyz"}),
    ("breakout_refer", {"breakout_uuid": B_UUID, "breakout_name": "Room 2"}, None,
     ev.BreakoutRefer, {"breakout_uuid": B_UUID, "breakout_name": "Room 2"}),
    ("refresh_token", None, None, ev.RefreshTokenRequested, {}),
    ("cancel_refer", None, None, ev.CancelRefer, {}),
    ("presentation_ended", None, None, ev.PresentationEnded, {}),
    ("on_hold", {"on_hold": True}, None, ev.OnHold, {"data": {"on_hold": True}}),
    ("fecc", {"action": "start", "movement": [{"axis": "pan", "direction": "left"}]}, None,
     ev.Fecc, {}),
]  # fmt: skip


def through_the_wire(name: str, data: Any, event_id: str | None = None) -> ev.Event:
    """Format, parse as SSE (byte by byte), type: what a client would see."""
    raw = format_event(name, None if data is None else json.dumps(data), id=event_id)
    parser = SseParser()
    sses = [s for i in range(len(raw)) for s in parser.feed(raw[i : i + 1])]
    assert len(sses) == 1
    return ev.parse_event(sses[0])


@pytest.mark.parametrize(
    ("name", "data", "event_id", "cls", "attrs"), CASES, ids=[c[0] for c in CASES]
)
def test_each_event_is_typed(
    name: str,
    data: Any,
    event_id: str | None,
    cls: type,
    attrs: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        event = through_the_wire(name, data, event_id)
    assert type(event) is cls
    assert ev.name_of(event) == name
    for key, value in attrs.items():
        assert getattr(event, key) == value, key
    assert not caplog.records, caplog.text


def test_cases_cover_every_spec_and_known_wire_name() -> None:
    assert len(SPEC_EVENT_NAMES) == 25
    covered = {c[0] for c in CASES}
    assert covered == {str(n) for n in WIRE_EVENT_NAMES}


def test_participant_fields_are_all_kept() -> None:
    event = through_the_wire("participant_create", PARTICIPANT)
    assert isinstance(event, ev.ParticipantCreated)
    p = event.participant
    body = p.body()
    for key, value in PARTICIPANT.items():
        assert body[key] == value, key
    assert p.is_host and not p.muted and p.send_to_audio_mixes is not None


def test_stage_entries_are_typed_and_ordered_by_index() -> None:
    event = through_the_wire("stage", CASES[13][1])
    assert isinstance(event, ev.StageChanged)
    assert [(e.participant_uuid, e.stage_index, e.vad) for e in event.entries] == [
        ("a", 0, 100),
        ("b", 1, 0),
    ]


def test_v14_message_is_also_a_message_received() -> None:
    event = through_the_wire("message", {"payload": "hi", "origin": "A"})
    assert isinstance(event, ev.MessageReceived)
    assert event.name == ev.EventName.MESSAGE


def test_unnamed_event_without_chat_shape_stays_unknown() -> None:
    event = ev.parse_event(SseEvent("message", "hello", "", None))
    assert isinstance(event, ev.UnknownEvent)
    assert event.data == "hello"


def test_presentation_frame_id_comes_from_the_sse_id_not_the_data() -> None:
    event = through_the_wire(
        "presentation_frame", {"lastEventId": "from-data", "id": "x"}, "sse-id"
    )
    assert event == ev.PresentationFrame(event_id="sse-id")


@pytest.mark.parametrize("raw", ["", "null", "{}", " "])
def test_splash_screen_without_data_clears(raw: str) -> None:
    event = ev.parse_event(SseEvent("splash_screen", raw))
    assert event == ev.SplashScreen(data=None)
    assert isinstance(event, ev.SplashScreen) and event.screen_key is None


def test_disconnect_without_data_has_no_reason() -> None:
    assert ev.parse_event(SseEvent("disconnect", "null")) == ev.Disconnected(reason=None)


def test_breakout_event_parses_the_inner_event() -> None:
    event = through_the_wire(
        "breakout_event",
        {"breakout_uuid": B_UUID, "event": "participant_create", "data": PARTICIPANT},
    )
    assert isinstance(event, ev.BreakoutEvent)
    assert isinstance(event.event, ev.ParticipantCreated)
    assert event.event.participant.display_name == "Alice"


def test_breakout_event_with_unknown_or_invalid_inner_event() -> None:
    unknown = ev.parse_event(
        SseEvent("breakout_event", json.dumps({"breakout_uuid": "b", "event": "zz", "data": [1]}))
    )
    assert unknown == ev.BreakoutEvent("b", ev.UnknownEvent("zz", [1]))
    invalid = ev.parse_event(
        SseEvent("breakout_event", json.dumps({"breakout_uuid": "b", "event": "layout", "data": 3}))
    )
    assert isinstance(invalid, ev.BreakoutEvent)
    assert isinstance(invalid.event, ev.UnknownEvent) and invalid.event.error


def test_breakout_event_nesting_is_bounded() -> None:
    data: Any = {"uuid": "x"}
    name = "participant_delete"
    for _ in range(10):
        data, name = {"breakout_uuid": "b", "event": name, "data": data}, "breakout_event"
    event = ev.parse_event(SseEvent(name, json.dumps(data)))
    depth = 0
    while isinstance(event, ev.BreakoutEvent):
        event, depth = event.event, depth + 1
    assert isinstance(event, ev.UnknownEvent) and "nested" in (event.error or "")
    assert depth == 5


def test_unknown_event_is_delivered_untyped_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        json_data = ev.parse_event(SseEvent("brand_new_event", '{"a": [1, 2]}', "9"))
        text_data = ev.parse_event(SseEvent("another_one", "plain text"))
    assert json_data == ev.UnknownEvent("brand_new_event", {"a": [1, 2]}, None, "9")
    assert text_data == ev.UnknownEvent("another_one", "plain text")
    assert ev.name_of(json_data) == "brand_new_event"
    assert not caplog.records  # unknown names are normal, not warnings


def test_bad_json_for_a_known_event_is_unknown_with_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        event = ev.parse_event(SseEvent("participant_create", "{not json"))
    assert isinstance(event, ev.UnknownEvent)
    assert event.event_name == "participant_create"
    assert event.data == "{not json"
    assert event.error is not None and "not JSON" in event.error
    assert "participant_create" in caplog.text


def test_invalid_data_is_unknown_with_raw_data_and_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = {"display_name": "no uuid"}
    with caplog.at_level(logging.WARNING):
        event = ev.parse_event(SseEvent("participant_create", json.dumps(broken)))
    assert isinstance(event, ev.UnknownEvent)
    assert event.data == broken
    assert event.error is not None and "uuid" in event.error
    assert "participant_create" in caplog.text


def test_optional_field_that_does_not_fit_falls_back_to_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        event = ev.parse_event(
            SseEvent(
                "participant_create",
                json.dumps({**PARTICIPANT, "call_direction": "sideways", "protocol": "quantum"}),
            )
        )
    assert isinstance(event, ev.ParticipantCreated)
    assert event.participant.call_direction == "in"
    assert event.participant.display_name == "Alice"
    assert "call_direction" in caplog.text
    # protocol is an open set: a value newer than the spec is kept as sent
    assert event.participant.protocol == "quantum"


def test_secrets_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    refer = ev.parse_event(SseEvent("refer", json.dumps({"alias": "a", "token": "S3CRET-T0KEN"})))
    assert isinstance(refer, ev.Refer) and refer.token == "S3CRET-T0KEN"
    assert "S3CRET" not in repr(refer)
    with caplog.at_level(logging.DEBUG):
        bad = ev.parse_event(SseEvent("refer", json.dumps({"alias": 5, "token": "S3CRET-T0KEN"})))
    assert isinstance(bad, ev.UnknownEvent)
    assert "S3CRET" not in repr(bad)
    assert "S3CRET" not in caplog.text


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.randint(-5, 5)
    if kind == 3:
        return rng.choice(["", "x", "YES", "video", "1:7", "participant_create", "uuid"])
    if kind == 4:
        return rng.random()
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    keys = [
        *("uuid", "display_name", "event", "data", "breakout_uuid", "sdp", "view", "payload"),
        *("call_uuid", "screen_key", "alias", "candidate", "participant_uuid", "stage_index"),
    ]
    return {k: random_json(rng, depth + 1) for k in rng.sample(keys, rng.randrange(len(keys)))}


def test_parser_never_raises_on_random_data(caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(2024)
    names = [str(n) for n in ev.EventName] + ["zzz", ""]
    with caplog.at_level(logging.CRITICAL):
        for _ in range(3000):
            name = rng.choice(names)
            raw = json.dumps(random_json(rng)) if rng.random() < 0.9 else "{bad"
            event = ev.parse_event(SseEvent(name, raw, "id"))
            assert isinstance(event, ev.EventBase)
            if not isinstance(event, ev.UnknownEvent):
                assert ev.name_of(event) == name
