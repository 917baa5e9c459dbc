"""Every request body pexbot sends and every answer the emulator gives, checked against Pexip's
own JSON schemas (``@pexip/infinity-api@20``), read in place from
``../shared/reference/infinity-schemas`` (or ``$PEXBOT_SCHEMAS``): nothing is copied here.

The endpoint tests of ``test_client_endpoints`` drive every typed client method; they run here
again with their emulators recorded. The scenarios below add what those leave out: every join
outcome, token refresh and release, refusals (403) of every participant function, the error
statuses the index describes (injected with ``emu.faults``), the whole breakout room surface
including a media call in a breakout, and ``present`` on ``calls``. Then every recorded exchange
goes through ``conformance_support.Conformance`` and the counts are printed.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import session_support

# The endpoint tests live with the signalling layer's tests; this module replays them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signalling"))
import test_client_endpoints as endpoints
from conformance_support import Conformance
from schema_check import SchemaBook
from session_support import GUEST_PIN_VALUE, HOST_PIN, IDP_UUID, url, wait_for

from pexbot import (
    GUEST_PIN,
    ApiError,
    CallApi,
    ConferenceNotFound,
    ExtensionRequired,
    IdpRequired,
    InvalidPin,
    JoinDenied,
    NodeUnavailable,
    ParticipantApi,
    PinRequired,
    RoomApi,
    Session,
    SsoRedirectRequired,
    wire,
)
from pexbot.emulator import Emulator, Exchange, Faults
from pexbot.signalling.retry import RetryPolicy, is_idempotent

OFFER = endpoints.OFFER

#: Schema endpoints pexbot never calls, and why.
NOT_REACHED = {
    "callsRtmpParticipant": "pexbot has no RTMP calls (CallsBody.call_type is always WEBRTC)",
}

Recorded = list[Exchange]


@contextlib.asynccontextmanager
async def recorded(sink: Recorded, **overrides: Any) -> AsyncIterator[Emulator]:
    """``session_support.emulator`` whose traffic lands in ``sink`` when it closes."""
    async with session_support.emulator(**overrides) as emu:
        try:
            yield emu
        finally:
            sink.extend(emu.traffic)


async def outcome(call: Awaitable[Any]) -> int:
    """The HTTP status a typed call ended with (200 when it returned)."""
    try:
        await call
    except ApiError as exc:
        return exc.status
    return 200


# Arguments for every ParticipantApi method that takes some; the rest are called bare.
PARTICIPANT_ARGS: dict[str, Callable[[], tuple[Any, ...]]] = {
    "calls": lambda: (wire.CallsBody(sdp=OFFER, media_type="video"),),
    "dtmf": lambda: ("12#",),
    "message": lambda: ("hello",),
    "overlay_text": lambda: ("Name",),
    "pres_in_mix": lambda: (True,),
    "set_role": lambda: ("guest",),
    "fecc": lambda: ("start", [wire.FeccMovement(axis="pan", direction="left")]),
    "transfer": lambda: ("pinned",),
    "statistics": lambda: (wire.StatisticsBody(audio=wire.StreamStats(rx_bitrate=8.0)),),
    "preferred_aspect_ratio": lambda: (1.5,),
    "layout_group": lambda: ("front",),
    "send_to_audio_mixes": lambda: ([wire.AudioMix(mix_name="main", prominent=False)],),
    "receive_from_audio_mix": lambda: ("main",),
}
#: run last, in this order: they take the target away
PARTICIPANT_LAST = ("transfer", "disconnect")
ROOM_ARGS: dict[str, Callable[[], tuple[Any, ...]]] = {
    "dial": lambda: (wire.DialBody(role="GUEST", destination="sip:x@example.com", protocol="sip"),),
    "set_guests_can_unmute": lambda: (True,),
    "transform_layout": lambda: (wire.Transforms(layout="1:7"),),
    "silent_video_detection": lambda: (wire.SilentVideoDetectionConfig(enable=False),),
    "set_classification_level": lambda: (0,),
    "set_message_text": lambda: ("banner",),
    "set_pinning_config": lambda: ("basic_backfill",),
    "move_participants": lambda: ("main", []),
    "video_mix_create": lambda: ("mix1",),
    "video_mix_configure": lambda: ("mix1", "1:0"),
    "video_mix_delete": lambda: ("mix1",),
    "message": lambda: ("hello room",),
    "theme_resource": lambda: ("background.jpg",),
}
#: order of the room functions that depend on each other (the rest run first)
ROOM_ORDER = ("video_mix_create", "video_mix_configure", "video_mix_delete", "disconnect_all")


CALL_ARGS: dict[str, Callable[[], tuple[Any, ...]]] = {
    "dtmf": lambda: ("1",),
    "new_candidate": lambda: (wire.NewCandidateBody(candidate="", mid="0"),),
    "update": lambda: (wire.UpdateBody(sdp=OFFER),),
    "fecc": lambda: ("stop", [wire.FeccMovement(axis="zoom", direction="out")]),
    "statistics": lambda: (wire.StatisticsBody(audio=wire.StreamStats(rx_bitrate=8.0)),),
}


def public_methods(cls: type[Any]) -> list[str]:
    return [
        name
        for name, _ in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if not name.startswith("_")
    ]


async def every_participant_function(api: ParticipantApi, *, skip: set[str]) -> dict[str, int]:
    """Call every ParticipantApi function on ``api`` (the removing ones last); the statuses."""
    names = [n for n in public_methods(ParticipantApi) if n not in skip]
    names.sort(key=lambda n: PARTICIPANT_LAST.index(n) + 1 if n in PARTICIPANT_LAST else 0)
    statuses = {}
    for name in names:
        args = PARTICIPANT_ARGS.get(name, tuple)()
        statuses[name] = await outcome(getattr(api, name)(*args))
    return statuses


async def every_call_function(api: CallApi) -> dict[str, int]:
    names = sorted(public_methods(CallApi), key=lambda n: n == "disconnect")
    return {n: await outcome(getattr(api, n)(*CALL_ARGS.get(n, tuple)())) for n in names}


async def every_room_function(api: RoomApi, *, skip: set[str]) -> dict[str, int]:
    names = [n for n in public_methods(RoomApi) if n not in skip]
    names.sort(key=lambda n: ROOM_ORDER.index(n) + 1 if n in ROOM_ORDER else 0)
    return {n: await outcome(getattr(api, n)(*ROOM_ARGS.get(n, tuple)())) for n in names}


async def follow_sso_redirect(redirect_url: str) -> str:
    """What a browser does: open the IdP page and land on a URL that carries the sso_token."""
    async with aiohttp.ClientSession() as http, http.get(redirect_url) as resp:
        assert resp.status == 200
        final, body, kind = str(resp.url), await resp.text(), resp.content_type
    query = parse_qs(urlsplit(final).query)
    if "sso_token" in query:
        return query["sso_token"][0]
    assert kind == "application/json", f"no sso_token after the redirect to {final}"
    data = json.loads(body)
    return str(data.get("result", data)["sso_token"])


# -- scenarios -------------------------------------------------------------------------------


async def joins_refresh_and_release(sink: Recorded) -> None:
    async with recorded(sink) as emu:
        base = url(emu)
        for alias, pin, error in (
            ("pinned", None, PinRequired),
            ("both", None, PinRequired),
            ("pinned", "0000", InvalidPin),
            ("reception", None, ExtensionRequired),
            ("sso", None, IdpRequired),
        ):
            with pytest.raises(error):
                await Session(base, alias, pin=pin).open()
        async with (
            Session(base, "pinned", display_name="Host", pin=HOST_PIN) as host,
            Session(base, "pinned", display_name="Guest", pin=GUEST_PIN) as guest,
            Session(base, "both", display_name="Guest 2", pin=GUEST_PIN_VALUE),
            Session(base, "reception", conference_extension="pinned", pin=HOST_PIN),
        ):
            assert (host.role, guest.role) == ("HOST", "GUEST")
            host.token_keeper.request_refresh()
            await wait_for(lambda: host.token_keeper.refreshes >= 1, what="a token refresh")
            # A token the node has expired: the keeper's next refresh is refused (403).
            emu.faults.expire_tokens(guest.participant_uuid)
            guest.token_keeper.request_refresh()
            await wait_for(lambda: guest.ended.is_set(), what="the guest's refresh refused")
        with pytest.raises(SsoRedirectRequired) as redirect:
            await Session(base, "sso", chosen_idp=IDP_UUID).open()
        sso_token = await follow_sso_redirect(redirect.value.redirect_url)
        async with Session(base, "sso", sso_token=sso_token) as sso:
            assert sso.participant_uuid
        statuses = [x.status for x in emu.traffic.find("token.request")]
        assert statuses.count(403) == 6 and statuses.count(200) == 5, statuses
        assert {x.status for x in emu.traffic.find("token.refresh")} == {200, 403}
        assert len(emu.traffic.find("token.release")) >= 5


async def unknown_conference_maintenance_and_5xx(sink: Recorded) -> None:
    async with recorded(sink, default_vmr=False) as emu:
        base = url(emu)
        with pytest.raises(ConferenceNotFound):
            await Session(base, "nobody-here").open()
        emu.faults.set_maintenance(True)
        with pytest.raises(NodeUnavailable):
            await Session(base, "open").open()
        emu.faults.set_maintenance(False)
        for status, error in (
            (415, JoinDenied),
            (502, NodeUnavailable),
            (504, NodeUnavailable),
            (529, NodeUnavailable),
        ):
            emu.faults.fail_next(status=status, path_contains="request_token")
            with pytest.raises(error):
                await Session(base, "open").open()
        async with Session(base, "open", display_name="Caller") as session:
            await failing_calls(emu.faults, session.me)


async def failing_calls(faults: Faults, me: ParticipantApi) -> None:
    """Every error status the index describes for calls and call functions, injected; then
    the spec's present="main" (a documented divergence from the SDK-20 schema)."""
    # The index's breakout update lists no 500 (the main room's does).
    update_statuses = (502, 503, 520) if me.prefix else (500, 502, 503, 520)
    for status in (400, 500, 504):
        faults.fail_next(status=status, path_contains="/calls")
        assert await outcome(me.calls(wire.CallsBody(sdp=OFFER))) == status
    result = await me.calls(wire.CallsBody(sdp=OFFER, media_type="video"))
    call = me.call(result.call_uuid)
    end = wire.NewCandidateBody(candidate="", mid="0")
    steps: list[tuple[int, str, Callable[[], Awaitable[Any]]]] = [
        (502, "/new_candidate", lambda: call.new_candidate(end)),
        *((s, "/update", lambda: call.update(wire.UpdateBody(sdp=OFFER))) for s in update_statuses),
        (502, "/disconnect", call.disconnect),
        (503, "/disconnect", call.disconnect),
    ]
    for status, path, request in steps:
        # An idempotent request is sent again after a 5xx: fail every send it may make.
        count = RetryPolicy().attempts if is_idempotent("POST", path) else 1
        faults.fail_next(count, status=status, path_contains=f"{result.call_uuid}{path}")
        assert await outcome(request()) == status, (path, status)
    await call.disconnect()
    main = await me.calls(wire.CallsBody(sdp=OFFER, media_type="video", present="main"))
    await me.call(main.call_uuid).disconnect()


async def guest_refused_everything_hosts_do(sink: Recorded) -> None:
    """A Guest tries every participant and call function on the Host, in the main room and
    in a breakout, and every room function: each refusal is a 403 the index describes."""
    async with (
        recorded(sink) as emu,
        Session(url(emu), "pinned", display_name="Host", pin=HOST_PIN) as host,
        Session(url(emu), "pinned", display_name="Guest", pin=GUEST_PIN) as guest,
    ):
        host_uuid = host.participant_uuid or ""
        room = await host.conference.create_breakout(wire.BreakoutsBody(name="Room"))
        await wait_for(lambda: bool(_control_of(host, room)), what="the host's control")
        control = _control_of(host, room)
        main_call = await host.me.calls(wire.CallsBody(sdp=OFFER))
        breakout_call = (
            await host.breakout(room).participant(control).calls(wire.CallsBody(sdp=OFFER))
        )
        statuses = await every_participant_function(guest.participant(host_uuid), skip=set())
        refused = {name for name, status in statuses.items() if status == 403}
        assert {"mute", "spotlight_on", "transfer", "disconnect", "calls", "take_floor"} <= refused
        assert statuses["message"] == 200
        in_breakout = guest.breakout(room)
        # (avatar.jpg has no breakout path: the emulator 404s it, the client says "no avatar")
        statuses = await every_participant_function(
            in_breakout.participant(control), skip={"avatar"}
        )
        assert set(statuses.values()) == {403}, statuses
        for api in (
            guest.participant(host_uuid).call(main_call.call_uuid),
            in_breakout.participant(control).call(breakout_call.call_uuid),
        ):
            calls = await every_call_function(api)
            assert set(calls.values()) == {403}, calls
        rooms = await every_room_function(guest.conference, skip={"theme_resource"})
        assert rooms["lock"] == 403 and rooms["participants"] == 200
        assert await outcome(in_breakout.move_participants("main", [])) == 403
        # Close the room before the Host leaves: see test_host_leaving_an_open_breakout.
        assert await host.breakout(room).close()


def _control_of(host: Session, room: str) -> str:
    """Our (a Host's) control participant in breakout ``room``, once announced."""
    breakout = host.state.breakouts.get(room)
    return (breakout.participant_uuid or "") if breakout else ""


async def breakout_room_surface(sink: Recorded) -> None:
    async with recorded(sink) as emu, Session(url(emu), "open", display_name="Host") as host:
        students = [await endpoints._api_only(emu, "open", f"Student {n}") for n in (1, 2)]
        try:
            await _breakout_room_surface(emu, host, [uuid for _, uuid in students])
        finally:
            for transport, _ in students:
                await transport.aclose()


async def _breakout_room_surface(emu: Emulator, host: Session, uuids: list[str]) -> None:
    conf = host.conference
    room = await conf.create_breakout(wire.BreakoutsBody(name="Room", participants={"main": uuids}))
    breakout = host.breakout(room)
    await wait_for(lambda: bool(_control_of(host, room)), what="the host's control participant")
    control = breakout.participant(_control_of(host, room))

    # A media call from our control participant in the breakout.
    await failing_calls(emu.faults, control)
    for present in (None, "send", "receive"):
        body = wire.CallsBody(sdp=OFFER, media_type="video", present=present)
        result = await control.calls(body)
        call = control.call(result.call_uuid)
        if present is None:
            candidate = wire.NewCandidateBody(candidate="", mid="0")
            assert await outcome(call.new_candidate(candidate)) == 200
            assert await outcome(call.ack()) == 200
            assert await outcome(call.update(wire.UpdateBody(sdp=OFFER))) == 200
            assert await outcome(call.dtmf("1")) == 200
            stats = wire.StatisticsBody(video=wire.StreamStats(rx_fps=25.0))
            assert await outcome(call.statistics(stats)) == 200
            fecc = [wire.FeccMovement(axis="tilt", direction="up")]
            assert await outcome(call.fecc("start", fecc)) == 200
        assert await outcome(call.disconnect()) == 200
    for name in ("take_floor", "release_floor", "show_live_captions", "hide_live_captions"):
        assert await outcome(getattr(control, name)()) == 200, name

    first = await every_participant_function(
        breakout.participant(uuids[0]), skip={"calls", "disconnect"}
    )
    assert first["mute"] == first["spotlight_on"] == first["transfer"] == 200, first
    assert await outcome(breakout.participant(uuids[1]).disconnect()) == 200
    # Only control participants are left, so moving "everyone" to main moves nobody.
    rooms = await every_room_function(breakout, skip={"disconnect_all"})
    assert rooms["lock"] == rooms["video_mix_configure"] == rooms["move_participants"] == 200
    assert await outcome(breakout.close()) == 200


async def all_traffic(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    sink: Recorded = []

    @contextlib.asynccontextmanager
    async def recording(**overrides: Any) -> AsyncIterator[Emulator]:
        async with recorded(sink, **overrides) as emu:
            yield emu

    monkeypatch.setattr(endpoints, "emulator", recording)
    await endpoints.test_conference_functions()
    await endpoints.test_participant_functions()
    await endpoints.test_call_functions_and_signalling_adapter()
    await endpoints.test_breakout_functions_and_node_status()
    await joins_refresh_and_release(sink)
    await unknown_conference_maintenance_and_5xx(sink)
    await guest_refused_everything_hosts_do(sink)
    await breakout_room_surface(sink)
    return sink


# -- tests -----------------------------------------------------------------------------------


async def test_every_request_and_response_conforms_to_the_schemas(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    book = SchemaBook()
    checker = Conformance(book)
    traffic = await all_traffic(monkeypatch)
    checker.check_all(traffic)
    index = {e.function for e in book.endpoints}
    with capsys.disabled():
        print("\n" + checker.summary(index, NOT_REACHED))
    assert not checker.failures, "\n".join(map(str, checker.failures))
    assert checker.requests_checked >= 100 and checker.responses_checked >= 200
    assert index - checker.covered == set(NOT_REACHED), sorted(index - checker.covered)
    assert not checker.bodiless, checker.bodiless
    # Only BreakoutApi's inherited room functions without a breakout endpoint may go nowhere.
    assert all(key.split()[1].startswith("breakouts/{uuid}/") for key in checker.unrouted)
    assert sum(checker.divergences.values()) == 2  # present="main", main room and breakout

    # The same pipeline catches a real answer made wrong: a request_token 200 without version.
    joined = next(x for x in traffic if x.endpoint == "token.request" and x.status == 200)
    result = {k: v for k, v in joined.response_json["result"].items() if k != "version"}
    broken = replace(joined, response_json={**joined.response_json, "result": result})
    again = Conformance(book)
    again.check(broken)
    assert [str(f).rsplit(": ", 2)[-2:] for f in again.failures] == [
        ["result", "'version' is a required property"]
    ]


async def test_host_leaving_an_open_breakout_is_released_cleanly() -> None:
    sink: Recorded = []
    async with recorded(sink) as emu:
        async with Session(url(emu), "open", display_name="Host") as host:
            room = await host.conference.create_breakout(wire.BreakoutsBody(name="Room"))
            await wait_for(lambda: bool(_control_of(host, room)), what="the host's control")
        releases = emu.traffic.find("token.release")
    checker = Conformance(SchemaBook())
    checker.check_all(sink)
    assert [x.status for x in releases] == [200], checker.summary(set(), {})
    assert not checker.failures, "\n".join(map(str, checker.failures))


async def test_avatar_of_an_unknown_uuid_is_no_image_available() -> None:
    sink: Recorded = []
    async with recorded(sink) as emu, Session(url(emu), "open") as session:
        nobody = session.participant("00000000-0000-4000-8000-000000000000")
        assert await nobody.avatar() is None
    checker = Conformance(SchemaBook())
    checker.check_all(sink)
    assert ("avatarJpgParticipant", 404) in checker.answered
    assert not checker.failures, "\n".join(map(str, checker.failures))
