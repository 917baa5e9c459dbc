"""The conformance checker itself, on hand-made exchanges (no sockets): it must catch a bad
request body, a bad response, an undocumented status, a wrong content type and a missing body,
and must let pass what Pexip's validators let pass (unknown keys, documented divergences)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conformance_support import Conformance, generic_path, response_text
from schema_check import SchemaBook, schemas_dir

from pexbot.emulator import Exchange

VERSION = {"version_id": "36", "pseudo_version": "1.0"}
TOKEN = {
    "token": "t",
    "expires": "120",
    "participant_uuid": "p",
    "display_name": "bot",
    "role": "HOST",
    "version": VERSION,
    "current_service_type": "conference",
    "unknown_extra": 1,  # removed first, as Pexip's validators do: not an error
}
CALLS_OK = {"status": "success", "result": {"call_uuid": "c", "sdp": "v=0"}}


def exchange(
    path: str,
    status: int,
    request: Any,
    response: Any,
    *,
    method: str = "POST",
    content_type: str = "application/json",
) -> Exchange:
    return Exchange(
        method=method,
        path="/api/client/v2/conferences/meet/" + path,
        query={},
        endpoint=None,
        template=None,
        request_headers={},
        request_json=request,
        request_text="",
        status=status,
        response_json=response,
        content_type=content_type,
    )


@pytest.fixture(scope="module")
def book() -> SchemaBook:
    return SchemaBook()


def test_a_conforming_exchange_passes(book: SchemaBook) -> None:
    checker = Conformance(book)
    checker.check(
        exchange(
            "request_token",
            200,
            {"display_name": "bot", "extra": 1},
            {"status": "success", "result": TOKEN},
        )
    )
    assert (checker.requests_checked, checker.responses_checked, checker.failures) == (1, 1, [])
    assert checker.covered == {"requestToken"} and checker.answered == {("requestToken", 200)}


def test_every_kind_of_failure_is_caught_and_says_what_is_wrong(book: SchemaBook) -> None:
    no_version = {k: v for k, v in TOKEN.items() if k != "version"}
    checker = Conformance(book)
    checker.check_all(
        [
            exchange(
                "request_token",
                200,
                {"display_name": "bot"},
                {"status": "success", "result": no_version},
            ),
            exchange(
                "request_token", 200, {"display_name": 7}, {"status": "success", "result": TOKEN}
            ),
            exchange(
                "participants/p/calls",
                200,
                {"call_type": "WEBRTC", "sdp": "v=0", "present": "sideways"},
                CALLS_OK,
            ),
            exchange("participants/p/mute", 418, None, {"status": "failed", "result": "teapot"}),
            exchange("lock", 200, None, {"status": "success"}),
            # allow-listed status, but not the shape every 403 has
            exchange("lock", 403, None, {"status": "failed", "result": {"why": "guest"}}),
            # JSON endpoint answering something else
            exchange("conference_status", 200, None, None, method="GET", content_type="text/html"),
            # a JPEG endpoint answering JSON
            exchange("participants/p/avatar.jpg", 200, None, {"status": "success"}, method="GET"),
        ]
    )
    found = [(f.kind, f.function, f.errors[0]) for f in checker.failures]
    assert found == [
        ("response", "requestToken", "result: 'version' is a required property"),
        ("request body", "requestToken", "display_name: 7 is not of type 'string'"),
        (
            "request body",
            "callsWebrtcParticipant",
            "present: 'sideways' is not one of ['send', 'receive']",
        ),
        ("status", "muteParticipant", "the index lists only 200, 403"),
        ("response", "lock", "<root>: 'result' is a required property"),
        ("response", "lock", "result: {'why': 'guest'} is not of type 'string'"),
        ("response", "conferenceStatus", "not JSON (text/html)"),
        (
            "response",
            "avatarJpgParticipant",
            "content type 'application/json', expected 'image/jpeg'",
        ),
    ], "\n".join(map(str, checker.failures))
    assert "FAIL" in checker.summary({"requestToken"}, {})


def test_divergences_allowed_statuses_text_and_missing_bodies_are_counted(
    book: SchemaBook,
) -> None:
    checker = Conformance(book)
    checker.check_all(
        [
            exchange(
                "participants/p/calls",
                200,
                {"call_type": "WEBRTC", "sdp": "v=0", "present": "main"},
                CALLS_OK,
            ),
            exchange("lock", 403, None, {"status": "failed", "result": "Hosts only"}),
            # "text" in the index: validated as the string the SDK's res.text() gives
            exchange(
                "participants/p/calls/c/update",
                502,
                {"sdp": "v=0"},
                {"status": "failed", "result": "gone"},
            ),
            exchange(
                "participants/p/calls/c/ack", 200, None, {"status": "success", "result": True}
            ),
            exchange("clearspotlights", 200, None, {"status": "success", "result": True}),
        ]
    )
    assert checker.failures == []
    assert sum(checker.divergences.values()) == 1
    assert [dict(c) for c in checker.undocumented.values()] == [{"lock 403": 1}]
    assert checker.bodiless == {"ack": 1}
    assert checker.unrouted == {"POST clearspotlights -> 200": 1}  # no schema, no route name
    assert response_text(exchange("x", 502, None, {"result": "x"})) == '{"result": "x"}'
    assert (
        generic_path(
            "/api/client/v2/conferences/meet/breakouts/4904ef7c-d4cb-4df9-8b81-2e51534d5013/lock"
        )
        == "breakouts/{uuid}/lock"
    )


def test_schemas_are_read_in_place_never_copied(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = schemas_dir()
    project = Path(__file__).resolve().parents[2]
    assert (directory / "index.json").is_file()
    assert not directory.resolve().is_relative_to(project)
    names = {p.name for p in directory.glob("validate*.json")}
    assert len(names) > 200
    copies = [p for p in project.rglob("validate*.json") if p.name in names]
    assert not copies, copies
    # $PEXBOT_SCHEMAS wins: a book over an empty index has no endpoints.
    (tmp_path / "index.json").write_text('{"endpoints": [], "validators": {}}')
    monkeypatch.setenv("PEXBOT_SCHEMAS", str(tmp_path))
    assert SchemaBook().endpoints == []
