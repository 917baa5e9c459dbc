"""Every typed method reaches its endpoint on the emulator (loopback HTTP), one test per group.

Each call is checked against the emulator's traffic: the request hit the expected path, a
route matched it, and the node answered as expected. ``CALLED`` collects the method names
driven, and the last test checks that no public method of the API classes was left out, so a
method added later without a test here fails.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from session_support import emulator, url, wait_for

from pexbot import (
    ApiError,
    BreakoutApi,
    CallApi,
    ConferenceApi,
    NodeApi,
    ParticipantApi,
    RoomApi,
    Session,
    wire,
)
from pexbot.emulator import Emulator
from pexbot.signalling.api import ApiContext
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.join import JoinRequest, request_token

T = TypeVar("T")

CALLED: set[str] = set()

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
    "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendrecv\r\n"
    "a=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n"
)


class Driver:
    """Awaits one API call and checks what the emulator saw."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def __call__(
        self, name: str, call: Awaitable[T], path: str, *, status: int = 200
    ) -> T | ApiError:
        CALLED.add(name)
        before = len(self.emu.traffic)
        result: T | ApiError
        try:
            result = await call
        except ApiError as exc:
            if status == 200:
                raise
            result = exc
            assert exc.status == status, (name, exc)
        hits = [x for x in self.emu.traffic[before:] if x.path.endswith(path)]
        assert hits, f"{name}: no request to …{path}"
        assert hits[-1].endpoint is not None, f"{name}: no emulator route for {hits[-1].path}"
        assert hits[-1].status == status, (name, hits[-1].status, hits[-1].response_json)
        return result


async def _api_only(emu: Emulator, alias: str, name: str) -> tuple[ApiTransport, str]:
    transport = ApiTransport(url(emu), alias)
    info = await request_token(transport, JoinRequest(name))
    TOKENS[info.participant_uuid] = info.token
    return transport, info.participant_uuid


TOKENS: dict[str, str] = {}


async def test_conference_functions() -> None:
    async with emulator() as emu, Session(url(emu), "open", display_name="Host") as host:
        d = Driver(emu)
        conf = host.conference
        dial = wire.DialBody(role="GUEST", destination="sip:bob@example.com", protocol="sip")
        uuids = await d("RoomApi.dial", conf.dial(dial), "/dial")
        assert isinstance(uuids, list) and len(uuids) == 1
        status = await d("RoomApi.status", conf.status(), "/conference_status")
        assert isinstance(status, wire.ConferenceStatus)
        assert await d("RoomApi.lock", conf.lock(), "/lock") is True
        assert await d("RoomApi.unlock", conf.unlock(), "/unlock") is True
        assert await d("RoomApi.start_conference", conf.start_conference(), "/start_conference")
        assert await d("RoomApi.mute_guests", conf.mute_guests(), "/muteguests")
        assert await d("RoomApi.unmute_guests", conf.unmute_guests(), "/unmuteguests")
        call = conf.set_guests_can_unmute(False)
        assert await d("RoomApi.set_guests_can_unmute", call, "/set_guests_can_unmute")
        assert await d("RoomApi.message", conf.message("hi"), "/message")
        roster = await d("RoomApi.participants", conf.participants(), "/participants")
        assert isinstance(roster, list) and host.participant_uuid in {p.uuid for p in roster}
        transforms = wire.Transforms(layout="2x2", enable_overlay_text=True)
        assert await d(
            "RoomApi.transform_layout", conf.transform_layout(transforms), "/transform_layout"
        )
        assert await d("RoomApi.clear_all_buzz", conf.clear_all_buzz(), "/clearallbuzz")
        assert await d("RoomApi.clear_spotlights", conf.clear_spotlights(), "/clearspotlights")
        svd = wire.SilentVideoDetectionConfig(enable=True, silent_after=15)
        assert await d(
            "RoomApi.silent_video_detection",
            conf.silent_video_detection(svd),
            "/silent_video_detection",
        )
        levels = await d(
            "RoomApi.get_classification_level",
            conf.get_classification_level(),
            "/get_classification_level",
        )
        assert isinstance(levels, wire.ClassificationLevels)
        level = int(next(iter(levels.levels), "0"))
        set_level = conf.set_classification_level(level)
        await d(
            "RoomApi.set_classification_level",
            set_level,
            "/set_classification_level",
            status=200 if levels.levels else 400,
        )
        theme = await d("RoomApi.theme", conf.theme(), "/theme/")
        assert isinstance(theme, dict)
        resource = next((s.background.path for s in theme.values()), "background.jpg")  # type: ignore[union-attr]
        image = await d(
            "RoomApi.theme_resource",
            conf.theme_resource(resource),
            f"/theme/{resource}",
            status=200 if theme else 404,
        )
        assert isinstance(image, bytes | ApiError)
        layouts = await d(
            "RoomApi.available_layouts", conf.available_layouts(), "/available_layouts"
        )
        assert isinstance(layouts, list) and all(isinstance(x, str) for x in layouts)
        annotated = await d(
            "RoomApi.available_layouts_annotated",
            conf.available_layouts_annotated(),
            "/available_layouts",
        )
        assert isinstance(annotated, list) and all(
            isinstance(x, wire.AnnotatedLayout) for x in annotated
        )
        assert emu.traffic[-1].query == {"annotate": "true"}
        svgs = await d("RoomApi.layout_svgs", conf.layout_svgs(), "/layout_svgs")
        assert isinstance(svgs, dict)
        assert await d(
            "RoomApi.set_message_text", conf.set_message_text("banner"), "/set_message_text"
        )
        text = await d("RoomApi.get_message_text", conf.get_message_text(), "/get_message_text")
        assert isinstance(text, wire.MessageText) and text.text == "banner"
        assert await d(
            "RoomApi.set_pinning_config",
            conf.set_pinning_config("basic_backfill"),
            "/set_pinning_config",
        )
        pinning = await d(
            "RoomApi.get_pinning_config", conf.get_pinning_config(), "/get_pinning_config"
        )
        assert pinning == "basic_backfill"
        assert await d(
            "RoomApi.video_mix_create", conf.video_mix_create("mix1"), "/video_mixes/create"
        )
        assert await d(
            "RoomApi.video_mix_configure",
            conf.video_mix_configure("mix1", "1:0"),
            "/video_mixes/mix1/configure",
        )
        assert await d(
            "RoomApi.video_mix_delete", conf.video_mix_delete("mix1"), "/video_mixes/mix1/delete"
        )
        frame = await d(
            "ConferenceApi.presentation_frame",
            conf.presentation_frame("f1"),
            "/presentation.jpeg",
            status=404,
        )
        high = await d(
            "ConferenceApi.presentation_frame",
            conf.presentation_frame("f1", high=True),
            "/presentation_high.jpeg",
            status=404,
        )
        assert isinstance(frame, ApiError) and isinstance(high, ApiError)
        assert emu.traffic[-1].query == {"id": "f1"}
        assert await d("RoomApi.disconnect_all", conf.disconnect_all(), "/disconnect")
        await wait_for(lambda: host.ended.is_set(), what="the host disconnected with everyone")


async def test_participant_functions() -> None:
    async with emulator() as emu, Session(url(emu), "open", display_name="Host") as host:
        d = Driver(emu)
        other_t, other_uuid = await _api_only(emu, "open", "Other")
        other = host.participant(other_uuid)
        me = host.me
        for name, method, path in (
            ("mute", other.mute, "mute"),
            ("unmute", other.unmute, "unmute"),
            ("video_mute", other.video_mute, "video_muted"),
            ("video_unmute", other.video_unmute, "video_unmuted"),
            ("client_mute", other.client_mute, "client_mute"),
            ("client_unmute", other.client_unmute, "client_unmute"),
            ("allow_rx_presentation", other.allow_rx_presentation, "allowrxpresentation"),
            ("deny_rx_presentation", other.deny_rx_presentation, "denyrxpresentation"),
            ("spotlight_on", other.spotlight_on, "spotlighton"),
            ("spotlight_off", other.spotlight_off, "spotlightoff"),
            ("buzz", other.buzz, "buzz"),
            ("clear_buzz", other.clear_buzz, "clearbuzz"),
            ("notify_not_afk", me.notify_not_afk, "notify_not_afk"),
        ):
            assert await d(f"ParticipantApi.{name}", method(), f"/{path}") is True
        await d("ParticipantApi.unlock", other.unlock(), "/unlock")
        assert await d("ParticipantApi.dtmf", other.dtmf("1234#"), "/dtmf")
        assert await d("ParticipantApi.message", other.message("psst"), f"/{other_uuid}/message")
        assert (
            await d(
                "ParticipantApi.show_live_captions", me.show_live_captions(), "/show_live_captions"
            )
            is None
        )
        assert (
            await d(
                "ParticipantApi.hide_live_captions", me.hide_live_captions(), "/hide_live_captions"
            )
            is None
        )
        assert await d(
            "ParticipantApi.overlay_text", other.overlay_text("The Dude"), "/overlaytext"
        )
        assert await d("ParticipantApi.pres_in_mix", other.pres_in_mix(True), "/pres_in_mix")
        assert await d("ParticipantApi.set_role", other.set_role("guest"), "/role")
        movement = [wire.FeccMovement(axis="pan", direction="left")]
        assert await d(
            "ParticipantApi.fecc", other.fecc("start", movement, duration_ms=1000), "/fecc"
        )
        assert emu.traffic[-1].request_json["target"] == other_uuid
        assert await d("ParticipantApi.take_floor", me.take_floor(), "/take_floor") is None
        assert await d("ParticipantApi.release_floor", me.release_floor(), "/release_floor") is None
        avatar = await d("ParticipantApi.avatar", other.avatar(), "/avatar.jpg")
        assert avatar is None or (isinstance(avatar, bytes) and avatar[:2] == b"\xff\xd8")
        stats = wire.StatisticsBody(audio=wire.StreamStats(rx_bitrate=64.0, rx_codec="opus"))
        assert (
            await d(
                "ParticipantApi.statistics",
                me.statistics(stats),
                f"/{host.participant_uuid}/statistics",
            )
            is None
        )
        assert await d(
            "ParticipantApi.preferred_aspect_ratio",
            me.preferred_aspect_ratio(16 / 9),
            "/preferred_aspect_ratio",
        )
        assert await d("ParticipantApi.layout_group", other.layout_group("front"), "/layout_group")
        mixes = [wire.AudioMix(mix_name="main.french", prominent=True)]
        assert await d(
            "ParticipantApi.send_to_audio_mixes",
            other.send_to_audio_mixes(mixes),
            "/send_to_audio_mixes",
        )
        assert await d(
            "ParticipantApi.receive_from_audio_mix",
            other.receive_from_audio_mix("main.french"),
            "/receive_from_audio_mix",
        )
        assert await d(
            "ParticipantApi.receive_from_audio_mix",
            other.receive_from_audio_mix(None),
            "/receive_from_audio_mix",
        )
        assert emu.traffic[-1].request_json == {"mix_name": None}
        assert await d(
            "ParticipantApi.transfer", other.transfer("pinned", role="guest"), "/transfer"
        )
        third_t, third_uuid = await _api_only(emu, "open", "Third")
        assert await d(
            "ParticipantApi.disconnect", host.participant(third_uuid).disconnect(), "/disconnect"
        )
        for transport in (other_t, third_t):
            await transport.aclose()


async def test_call_functions_and_signalling_adapter() -> None:
    async with emulator() as emu, Session(url(emu), "open", display_name="Caller") as session:
        d = Driver(emu)
        me = session.me
        body = wire.CallsBody(sdp=OFFER, media_type="video", fecc_supported=False)
        result = await d("ParticipantApi.calls", me.calls(body), "/calls")
        assert isinstance(result, wire.CallsResult) and result.sdp.startswith("v=0")
        call = me.call(result.call_uuid)
        candidate = wire.NewCandidateBody(
            candidate="candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", mid="0", ufrag="abcd"
        )
        assert (
            await d("CallApi.new_candidate", call.new_candidate(candidate), "/new_candidate")
            is None
        )
        assert await d("CallApi.ack", call.ack(), "/ack") is True
        assert emu.traffic[-1].request_json == {}
        answer = await d("CallApi.update", call.update(wire.UpdateBody(sdp=OFFER)), "/update")
        assert isinstance(answer, str | wire.UpdateResult)
        assert await d("CallApi.dtmf", call.dtmf("5"), f"/calls/{result.call_uuid}/dtmf")
        movement = [wire.FeccMovement(axis="zoom", direction="in")]
        assert await d(
            "CallApi.fecc",
            call.fecc("start", movement, duration_ms=200),
            f"/calls/{result.call_uuid}/fecc",
        )
        stats = wire.StatisticsBody(video=wire.StreamStats(rx_fps=25.0))
        assert (
            await d(
                "CallApi.statistics",
                call.statistics(stats),
                f"/calls/{result.call_uuid}/statistics",
            )
            is None
        )
        assert (
            await d(
                "CallApi.disconnect", call.disconnect(), f"/calls/{result.call_uuid}/disconnect"
            )
            is None
        )

        # The CallSignalling adapter drives the same endpoints, and refreshes after update.
        signalling = session.call_signalling()
        second = await d("SessionSignalling.post_calls", signalling.post_calls(body), "/calls")
        assert isinstance(second, wire.CallsResult)
        uuid = second.call_uuid
        await d(
            "SessionSignalling.new_candidate",
            signalling.new_candidate(uuid, candidate),
            "/new_candidate",
        )
        await d("SessionSignalling.ack", signalling.ack(uuid, wire.AckBody()), "/ack")
        refreshes = session.token_keeper.refreshes
        await d(
            "SessionSignalling.update",
            signalling.update(uuid, wire.UpdateBody(sdp=OFFER)),
            "/update",
        )
        await wait_for(
            lambda: session.token_keeper.refreshes > refreshes, what="refresh after update"
        )
        await d(
            "SessionSignalling.call_dtmf", signalling.call_dtmf(uuid, "1"), f"/calls/{uuid}/dtmf"
        )
        await d("SessionSignalling.take_floor", signalling.take_floor(), "/take_floor")
        await d("SessionSignalling.release_floor", signalling.release_floor(), "/release_floor")
        await d(
            "SessionSignalling.disconnect_call",
            signalling.disconnect_call(uuid),
            f"/calls/{uuid}/disconnect",
        )


async def test_breakout_functions_and_node_status() -> None:
    async with emulator() as emu, Session(url(emu), "open", display_name="Host") as host:
        d = Driver(emu)
        conf = host.conference
        guest_t, guest_uuid = await _api_only(emu, "open", "Student")
        body = wire.BreakoutsBody(
            name="Room 1", participants={"main": [guest_uuid]}, guests_allowed_to_leave=True
        )
        room = await d("ConferenceApi.create_breakout", conf.create_breakout(body), "/breakouts")
        assert isinstance(room, str)
        breakout = host.breakout(room)
        assert conf.breakout(room).prefix == breakout.prefix == f"breakouts/{room}/"
        assert await d("BreakoutApi.mute_guests", breakout.mute_guests(), f"/{room}/muteguests")
        assert await d(
            "BreakoutApi.transform_layout",
            breakout.transform_layout(wire.Transforms(layout="1:0")),
            f"/{room}/transform_layout",
        )
        assert await d("BreakoutApi.message", breakout.message("to room 1"), f"/{room}/message")
        assert await d(
            "BreakoutApi.participant.mute",
            breakout.participant(guest_uuid).mute(),
            f"/{room}/participants/{guest_uuid}/mute",
        )
        assert await d(
            "BreakoutApi.breakout_buzz", breakout.breakout_buzz(), f"/{room}/breakoutbuzz"
        )
        assert await d(
            "BreakoutApi.clear_breakout_buzz",
            breakout.clear_breakout_buzz(),
            f"/{room}/clearbreakoutbuzz",
        )
        ticket = await d(
            "BreakoutApi.request_guest_token",
            breakout.request_guest_token(),
            f"/{room}/request_guest_token",
        )
        assert isinstance(ticket, str) and ticket
        assert await d(
            "ConferenceApi.message_breakouts",
            conf.message_breakouts("to all rooms"),
            "/breakouts/message",
        )
        assert await d("ConferenceApi.empty_breakouts", conf.empty_breakouts(), "/breakouts/empty")
        assert await d(
            "RoomApi.move_participants",
            conf.move_participants(room, [guest_uuid]),
            "/participants/breakout",
        )
        assert await d(
            "BreakoutApi.move_participants",
            breakout.move_participants("main", []),
            f"/{room}/participants/breakout",
        )
        # Back into the room: the guest, from inside, asks for help and leaves.
        assert await conf.move_participants(room, [guest_uuid])
        as_guest = ConferenceApi(ApiContext(guest_t, lambda: TOKENS[guest_uuid]))
        assert await d("RoomApi.breakout_buzz", as_guest.breakout_buzz(), "/breakoutbuzz")
        assert await d(
            "RoomApi.clear_breakout_buzz", as_guest.clear_breakout_buzz(), "/clearbreakoutbuzz"
        )
        assert await d("ConferenceApi.leave_breakout", as_guest.leave_breakout(), "/leavebreakout")
        # The host is in the main room, where leaving a breakout is refused.
        await d("ConferenceApi.leave_breakout", conf.leave_breakout(), "/leavebreakout", status=403)
        assert await d("BreakoutApi.close", breakout.close(), f"/{room}/disconnect")
        second = await conf.create_breakout(wire.BreakoutsBody(name="Room 2"))
        assert second
        assert await d(
            "ConferenceApi.close_breakouts", conf.close_breakouts(), "/breakouts/disconnect"
        )
        assert await d("NodeApi.status", host.node.status(), "/api/client/v2/status") == "OK"
        assert await d("NodeApi.available", host.node.available(), "/api/client/v2/status") is True
        await guest_t.aclose()


@pytest.mark.parametrize(
    "cls", [RoomApi, ConferenceApi, BreakoutApi, ParticipantApi, CallApi, NodeApi]
)
def test_every_public_method_is_driven_above(cls: type[Any]) -> None:
    # Runs after the tests above in file order; alone it only checks the names exist.
    if not CALLED:
        pytest.skip("run with the endpoint tests of this file")
    methods = {
        name
        for name, fn in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    owner = cls.__name__
    driven = {n.split(".", 1)[1] for n in CALLED if n.startswith(f"{owner}.")}
    if cls is BreakoutApi:
        driven |= {n.split(".", 1)[1] for n in CALLED if n.startswith("RoomApi.")}
    if cls is ConferenceApi:
        driven |= {n.split(".", 1)[1] for n in CALLED if n.startswith("RoomApi.")}
    own = {n for n in methods if n in vars(cls)} if cls in (BreakoutApi, ConferenceApi) else methods
    assert own <= driven, sorted(own - driven)
